// The stage: the image, the mask overlays and the prompts, on stacked canvases at the image's
// resolution. Where the engine draws the masks itself (WebGPU overlay), it owns one more canvas
// under the page's overlay one, which then holds only the hover preview.

import type { Box } from '../engine';
import type { SegObject } from './state';

const canvas = (id: string) => document.getElementById(id) as HTMLCanvasElement;

export class Stage {
  readonly image = canvas('image-canvas');
  readonly overlay = canvas('overlay-canvas');
  readonly prompts = canvas('prompt-canvas');
  private readonly overlays = new Map<number, ImageBitmap>();
  private preview: ImageBitmap | null = null;

  /** A fresh canvas for the engine to draw the masks on (any earlier one is replaced: a canvas
   * can be handed over once), stacked above the image. */
  engineCanvas(): OffscreenCanvas {
    this.dropEngineCanvas();
    const c = document.createElement('canvas');
    c.id = 'engine-overlay-canvas';
    this.image.after(c);
    return c.transferControlToOffscreen();
  }

  dropEngineCanvas(): void {
    document.getElementById('engine-overlay-canvas')?.remove();
  }

  /** A tiny transparent canvas on the page, for the engine to try WebGPU canvases on
   * (`dropProbe` removes it after). */
  probeCanvas(): HTMLCanvasElement {
    const c = document.createElement('canvas');
    c.id = 'canvas-probe';
    c.width = c.height = 2;
    c.style.cssText = 'position:fixed;left:0;bottom:0;width:2px;height:2px;pointer-events:none';
    document.body.append(c);
    return c;
  }

  dropProbe(): void {
    document.getElementById('canvas-probe')?.remove();
  }

  /** Shows a new image; every overlay of the old one is dropped. */
  show(bitmap: ImageBitmap): void {
    for (const c of [this.image, this.overlay, this.prompts]) {
      c.width = bitmap.width;
      c.height = bitmap.height;
    }
    this.image.getContext('2d')?.drawImage(bitmap, 0, 0);
    this.clearOverlays();
  }

  get size(): { width: number; height: number } {
    return { width: this.image.width, height: this.image.height };
  }

  clearOverlays(): void {
    for (const b of this.overlays.values()) b.close();
    this.overlays.clear();
    this.setPreview(null);
  }

  setOverlay(objectId: number, bitmap: ImageBitmap): void {
    this.overlays.get(objectId)?.close();
    this.overlays.set(objectId, bitmap);
  }

  /** Drops the overlays of objects not in `keep`. */
  keepOverlays(keep: Set<number>): void {
    for (const [id, bitmap] of this.overlays) {
      if (keep.has(id)) continue;
      bitmap.close();
      this.overlays.delete(id);
    }
  }

  setPreview(bitmap: ImageBitmap | null): void {
    this.preview?.close();
    this.preview = bitmap;
  }

  paintOverlay(): void {
    const ctx = this.overlay.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    for (const b of this.overlays.values()) ctx.drawImage(b, 0, 0);
    if (this.preview) {
      ctx.globalAlpha = 0.6;
      ctx.drawImage(this.preview, 0, 0);
      ctx.globalAlpha = 1;
    }
  }

  drawPrompts(objects: SegObject[], activeId: number, dragBox?: Box): void {
    const c = this.prompts;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, c.width, c.height);
    const scale = c.width / c.getBoundingClientRect().width || 1;
    const r = 6 * scale;
    for (const o of objects) {
      ctx.lineWidth = 2 * scale;
      if (o.box) {
        ctx.strokeStyle = `rgb(${o.color.join(',')})`;
        ctx.setLineDash(o.id === activeId ? [] : [6 * scale, 4 * scale]);
        ctx.strokeRect(o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]);
        ctx.setLineDash([]);
      }
      for (const [x, y, label] of o.points) {
        ctx.beginPath();
        ctx.arc(x, y, r, 0, Math.PI * 2);
        ctx.fillStyle = label ? '#1fbf5f' : '#e0323c';
        ctx.fill();
        ctx.strokeStyle = '#fff';
        ctx.stroke();
      }
    }
    if (dragBox) {
      ctx.strokeStyle = '#fff';
      ctx.setLineDash([5 * scale, 4 * scale]);
      ctx.strokeRect(dragBox[0], dragBox[1], dragBox[2] - dragBox[0], dragBox[3] - dragBox[1]);
      ctx.setLineDash([]);
    }
  }
}
