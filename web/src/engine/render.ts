// Overlay bitmaps for the page: drawn on the GPU (WebGL2, maskRenderer.ts) where that is a
// hardware GPU, else in JavaScript from the upsampled logits (imageOps.ts).

import type { Backend } from './backend';
import { overlayPixels, threshold } from './imageOps';
import type { ImageSession } from './imageSession';
import type { LoadedModel } from './loader';
import { GpuMaskRenderer } from './maskRenderer';
import type { RenderedMask, RenderRequest } from './protocol';

export class Renderer {
  // undefined: not tried yet; null: unavailable (or JavaScript was chosen).
  private gpu: GpuMaskRenderer | null | undefined;

  constructor(private readonly backend: Backend) {}

  /** The GPU renderer, made on first use; null where WebGL2 is missing or JavaScript is chosen. */
  gpuRenderer(): GpuMaskRenderer | null {
    if (this.gpu === undefined) {
      const choice = this.backend.rendererChoice;
      try {
        this.gpu = choice === 'js' ? null : GpuMaskRenderer.create(choice === 'webgl2');
      } catch {
        this.gpu = null;
      }
    }
    return this.gpu;
  }

  async render(model: LoadedModel | null, image: ImageSession, masks: RenderRequest[]): Promise<RenderedMask[]> {
    const { width, height } = image;
    const results: RenderedMask[] = [];
    for (const m of masks) {
      const t0 = performance.now();
      const gpu = model ? this.gpuRenderer() : null;
      if (gpu && model) {
        try {
          const { bitmap, area } = gpu.render(m.lowRes, model.family.mapping, width, height, m);
          results.push({ objectId: m.objectId, bitmap, area, renderMs: performance.now() - t0, renderer: 'webgl2' });
          continue;
        } catch {
          this.gpu = null; // e.g. a lost WebGL context: draw in JavaScript from now on
        }
      }
      const bits = threshold(image.logitsFor(m.key, m.lowRes), m.threshold);
      const { pixels, area } = overlayPixels(bits, width, height, m.color, m.fill, m.contour);
      const bitmap = await createImageBitmap(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, width, height));
      results.push({ objectId: m.objectId, bitmap, area, renderMs: performance.now() - t0, renderer: 'js' });
    }
    return results;
  }
}
