// One image in the worker: its pixels, its features (GPU-resident on WebGPU), and the masks'
// full-resolution logits cached by key. Disposed as a whole when the next image or model comes.

import { EngineError } from './errors';
import type { LoadedModel } from './loader';
import type { EncodeResult } from './protocol';
import type { Tensor } from './runtime';

/** A cheap identity for a low-res logit map (FNV-1a over its bits). */
function fingerprint(low: Float32Array): string {
  const bits = new Uint32Array(low.buffer, low.byteOffset, low.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 16777619);
  return `${low.length}:${h >>> 0}`;
}

/** A map that forgets its oldest entry past `limit`. */
function remember<V>(map: Map<string, V>, key: string, value: V, limit: number): void {
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value as string);
}

function pixelsOf(bitmap: ImageBitmap): Uint8ClampedArray {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new EngineError('this browser cannot read image pixels in a worker (no 2D OffscreenCanvas)', 'internal');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
}

export class ImageSession {
  features: Record<string, Tensor> | null = null;
  /** The encoder's input where it was made on the GPU. */
  private input: Tensor | null = null;
  /** Upsampled logits, keyed by the page's object + version key. */
  private readonly fullRes = new Map<string, Float32Array>();
  /** Full-resolution logits that came out of the decoder itself (SAM1), keyed by their low-res
   * logits' fingerprint, until the page asks to render that mask. */
  private readonly decodedFullRes = new Map<string, Float32Array>();

  private constructor(
    readonly rgba: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
    private readonly model: LoadedModel,
  ) {}

  /** Takes the bitmap's pixels (and closes it), encodes them, hands the features to the decoders. */
  static async encode(model: LoadedModel, bitmap: ImageBitmap): Promise<{ image: ImageSession; result: EncodeResult }> {
    const { width, height } = bitmap;
    const rgba = pixelsOf(bitmap);
    bitmap.close();
    const image = new ImageSession(rgba, width, height, model);
    const t0 = performance.now();
    // On the GPU, the input stays with the image (the encoder's commands may still read it).
    image.input = model.gpuPreprocess?.run(rgba, width, height) ?? null;
    const feeds = image.input ? { [model.family.encoderInput]: image.input } : model.family.encoderFeeds(rgba, width, height);
    const t1 = performance.now();
    image.features = model.family.features(await model.encoder.run(feeds));
    model.decoders.setFeatures(image.features);
    const result: EncodeResult = {
      width,
      height,
      preprocessMs: t1 - t0,
      encodeMs: performance.now() - t1,
      featuresLocation: Object.values(image.features)[0].location,
    };
    return { image, result };
  }

  /** Keeps the decoder's own full-resolution logits for this mask (SAM1), for its first render. */
  rememberDecoded(lowRes: Float32Array, fullRes: Float32Array): void {
    remember(this.decodedFullRes, fingerprint(lowRes), fullRes, 8);
  }

  /** The mask's logits at the image's resolution, upsampled once per key. */
  logitsFor(key: string, lowRes: Float32Array): Float32Array {
    let logits = this.fullRes.get(key);
    if (!logits) {
      logits = this.decodedFullRes.get(fingerprint(lowRes)) ?? this.model.family.upsample(lowRes, this.width, this.height);
      remember(this.fullRes, key, logits, 16);
    }
    return logits;
  }

  dispose(): void {
    for (const t of Object.values(this.features ?? {})) t.dispose();
    this.features = null;
    this.input?.dispose();
    this.input = null;
    this.fullRes.clear();
    this.decodedFullRes.clear();
  }
}
