// The video predictor's own frame preprocessing, mirroring preprocess_frame in
// src/sam2web/predict/video.py (official sam2/utils/misc.py): uint8 RGB squashed to size x size
// with Pillow's default resample (bicubic, on 8 bits: Pillow's fixed-point arithmetic, to the
// last bit), /255, then ImageNet mean/std in float32. The image predictor's resize differs
// (antialiased bilinear on floats), so video frames have their own.

import type { FramePreprocessing } from '../gpuPreprocess';
import { fixedPointTaps, resampleRgb8, valueTable } from '../imageOps';

function bicubic(x: number): number {
  const a = -0.5;
  const t = Math.abs(x);
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
  return 0;
}

/** Pillow's 8-bit taps for the bicubic filter (support 2). */
const bicubicTaps = (inSize: number, outSize: number) => fixedPointTaps(inSize, outSize, bicubic, 2);

/** Pillow's Image.resize((outW, outH)) (bicubic) of RGBA pixels' RGB: RGB bytes, 3 per pixel. */
export function resizeBicubicRgb8(rgba: Uint8ClampedArray, width: number, height: number, outW: number, outH: number): Uint8Array {
  return resampleRgb8(rgba, width, height, outW, outH, bicubicTaps(width, outW), bicubicTaps(height, outH));
}

/** preprocess_frame's normalisation: /255, then ImageNet mean/std, in float32. */
const frameTable = (mean: number[], std: number[]) =>
  valueTable(mean, std, (v, m, s) => Math.fround(Math.fround(Math.fround(v / 255) - m) / s));

/** RGBA frame -> float32 (1, 3, size, size), as preprocess_frame. */
export function preprocessFrame(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  size: number,
  mean: number[],
  std: number[],
): Float32Array {
  const rgb = resizeBicubicRgb8(rgba, width, height, size, size);
  const out = new Float32Array(3 * size * size);
  const plane = size * size;
  const table = frameTable(mean, std);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) out[c * plane + i] = table[c * 256 + rgb[i * 3 + c]];
  }
  return out;
}

/** The same preprocessing for the GPU (gpuPreprocess.ts): squashed to size x size, bicubic. */
export function framePreprocessing(size: number, mean: number[], std: number[]): FramePreprocessing {
  return { size, resized: () => [size, size], taps: bicubicTaps, table: frameTable(mean, std) };
}
