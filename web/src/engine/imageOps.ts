// Pixel math shared by preprocessing and mask rendering. Each function mirrors the Python
// predictor (src/sam2web/predict/transforms.py) so both give the same masks.

const triangle = (x: number) => {
  const t = Math.abs(x);
  return t < 1 ? 1 - t : 0;
};

/** Resampling taps of Pillow's antialiased resize (precompute_coeffs) with `filter` of support
 * `filterSupport`; default bilinear (= torch bilinear with antialias). */
function resampleTaps(inSize: number, outSize: number, filter = triangle, filterSupport = 1) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterSupport * filterScale; // widened when shrinking
  const ss = 1 / filterScale; // Pillow multiplies by the reciprocal; so do we, to the last bit
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const maxTaps = Math.ceil(support) * 2 + 1;
  const weights = new Float64Array(outSize * maxTaps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    let lo = Math.trunc(center - support + 0.5);
    if (lo < 0) lo = 0;
    let hi = Math.trunc(center + support + 0.5);
    if (hi > inSize) hi = inSize;
    const n = hi - lo;
    let total = 0;
    for (let k = 0; k < n; k++) {
      const w = filter((k + lo - center + 0.5) * ss);
      weights[o * maxTaps + k] = w;
      total += w;
    }
    if (total !== 0) for (let k = 0; k < n; k++) weights[o * maxTaps + k] /= total;
    starts[o] = lo;
    counts[o] = n;
  }
  return { starts, counts, weights, maxTaps };
}

/** value/255 as float32, per 8-bit value: what the official transform computes per pixel. */
const UNIT_SCALE = Float32Array.from({ length: 256 }, (_, i) => Math.fround(i / 255));

/**
 * RGBA pixels -> float32 NCHW tensor of size x size, squashed (no crop, no padding) like the
 * official SAM2 transform: value/255, antialiased bilinear resize, (x - mean) / std.
 * Loops ordered for speed (it is most of a small model's encode wall time in the browser); every
 * output is summed in the same order as a plain per-pixel loop, so the results are the same bits.
 */
export function preprocessSquash(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  size: number,
  mean: number[],
  std: number[],
): Float32Array {
  const h = resampleTaps(width, size);
  const v = resampleTaps(height, size);
  const out = new Float32Array(3 * size * size);
  // Horizontal pass, the three channels together, kept in float32 as the official transform does.
  const rows = [new Float32Array(size * height), new Float32Array(size * height), new Float32Array(size * height)];
  const [r0, r1, r2] = rows;
  for (let y = 0; y < height; y++) {
    const rowBase = y * width * 4;
    for (let o = 0; o < size; o++) {
      const n = h.counts[o],
        wBase = o * h.maxTaps;
      let p = rowBase + h.starts[o] * 4;
      let a0 = 0,
        a1 = 0,
        a2 = 0;
      for (let k = 0; k < n; k++, p += 4) {
        const w = h.weights[wBase + k];
        a0 += UNIT_SCALE[rgba[p]] * w;
        a1 += UNIT_SCALE[rgba[p + 1]] * w;
        a2 += UNIT_SCALE[rgba[p + 2]] * w;
      }
      const i = y * size + o;
      r0[i] = a0;
      r1[i] = a1;
      r2[i] = a2;
    }
  }
  // Vertical pass: a whole output row at a time, tap by tap (the same order per pixel).
  const f = Math.fround;
  const acc = new Float64Array(size);
  for (let c = 0; c < 3; c++) {
    const rowBuf = rows[c],
      m = f(mean[c]),
      s = f(std[c]),
      plane = c * size * size;
    for (let o = 0; o < size; o++) {
      const start = v.starts[o],
        n = v.counts[o],
        wBase = o * v.maxTaps;
      acc.fill(0);
      for (let k = 0; k < n; k++) {
        const w = v.weights[wBase + k],
          src = (start + k) * size;
        for (let x = 0; x < size; x++) acc[x] += rowBuf[src + x] * w;
      }
      const dst = plane + o * size;
      for (let x = 0; x < size; x++) out[dst + x] = f(f(f(acc[x]) - m) / s);
    }
  }
  return out;
}

/** Pillow's fixed-point arithmetic for 8-bit images (Resample.c): 22 fractional bits. */
const PRECISION_BITS = 22;
const ONE = 2 ** PRECISION_BITS;

/** Pillow's 8-bit taps: resampleTaps' weights scaled by 2^22 and rounded (normalize_coeffs_8bpc). */
export function fixedPointTaps(inSize: number, outSize: number, filter = triangle, filterSupport = 1): FixedPointTaps {
  const t = resampleTaps(inSize, outSize, filter, filterSupport);
  const k = new Float64Array(t.weights.length);
  for (let i = 0; i < k.length; i++) {
    const w = t.weights[i] * ONE;
    k[i] = w < 0 ? Math.trunc(-0.5 + w) : Math.trunc(0.5 + w);
  }
  return { ...t, weights: k };
}

const clip8 = (acc: number) => {
  const v = Math.floor(acc / ONE); // acc >> 22 (acc fits a double exactly)
  return Math.min(Math.max(v, 0), 255);
};

/** Fixed-point resampling taps (weights scaled by 2^22, as Pillow's Resample.c keeps them). */
export interface FixedPointTaps {
  starts: Int32Array;
  counts: Int32Array;
  weights: Float64Array;
  maxTaps: number;
}

/**
 * Pillow's separable resize of an 8-bit image's RGB with the given taps (Resample.c): a
 * horizontal pass then a vertical one, each rounded back to 8 bits. -> RGB bytes, 3 per pixel.
 */
export function resampleRgb8(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  outW: number,
  outH: number,
  h: FixedPointTaps,
  v: FixedPointTaps,
): Uint8Array {
  const half = ONE / 2;
  const tmp = new Uint8Array(outW * height * 3);
  for (let y = 0; y < height; y++) {
    for (let o = 0; o < outW; o++) {
      const start = h.starts[o],
        n = h.counts[o],
        wBase = o * h.maxTaps;
      for (let c = 0; c < 3; c++) {
        let acc = half;
        for (let k = 0; k < n; k++) acc += rgba[(y * width + start + k) * 4 + c] * h.weights[wBase + k];
        tmp[(y * outW + o) * 3 + c] = clip8(acc);
      }
    }
  }
  const out = new Uint8Array(outW * outH * 3);
  const row = outW * 3;
  for (let o = 0; o < outH; o++) {
    const start = v.starts[o],
      n = v.counts[o],
      wBase = o * v.maxTaps;
    for (let x = 0; x < row; x++) {
      let acc = half;
      for (let k = 0; k < n; k++) acc += tmp[(start + k) * row + x] * v.weights[wBase + k];
      out[o * row + x] = clip8(acc);
    }
  }
  return out;
}

/** Pillow's bilinear resize of an 8-bit RGB image (Image.resize, BILINEAR). */
export function resizeRgb8(rgba: Uint8ClampedArray, width: number, height: number, outW: number, outH: number): Uint8Array {
  return resampleRgb8(rgba, width, height, outW, outH, fixedPointTaps(width, outW), fixedPointTaps(height, outH));
}

/** SAM1's ResizeLongestSide.get_preprocess_shape: [h, w] with the longest side = size. A side is
 * never below 1 px (the official rounding gives 0 for a 1x20000 strip, which cannot be resized). */
export function longestSideShape(width: number, height: number, size: number): [number, number] {
  const scale = size / Math.max(width, height);
  return [Math.max(1, Math.trunc(height * scale + 0.5)), Math.max(1, Math.trunc(width * scale + 0.5))];
}

/**
 * RGBA pixels -> float32 NCHW tensor of size x size like the official SAM1 transform: the 8-bit
 * image resized (Pillow bilinear) so its longest side is `size`, (x - mean) / std on the 0-255
 * scale, zero padding bottom/right. The padding is the model's business: the user never sees it.
 */
export function preprocessLongestSide(
  rgba: Uint8ClampedArray,
  width: number,
  height: number,
  size: number,
  mean: number[],
  std: number[],
): Float32Array {
  const [newH, newW] = longestSideShape(width, height, size);
  const rgb = resizeRgb8(rgba, width, height, newW, newH);
  const out = new Float32Array(3 * size * size);
  const table = longestSideTable(mean, std);
  for (let c = 0; c < 3; c++) {
    const plane = c * size * size;
    for (let y = 0; y < newH; y++) {
      for (let x = 0; x < newW; x++) out[plane + y * size + x] = table[c * 256 + rgb[(y * newW + x) * 3 + c]];
    }
  }
  return out;
}

/** Each 8-bit value's model input, per channel (3 x 256, channel-major): `value(v, mean, std)`
 * in float32. The CPU preprocessing looks its values up here, and the GPU's gets the same table
 * (gpuPreprocess.ts), so both normalise alike by construction. */
export function valueTable(
  mean: number[],
  std: number[],
  value: (v: number, mean: number, std: number) => number,
): Float32Array<ArrayBuffer> {
  const f = Math.fround;
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) table[c * 256 + v] = value(v, f(mean[c]), f(std[c]));
  return table;
}

/** SAM1's normalisation, (x - mean) / std on the 0-255 scale. */
export const longestSideTable = (mean: number[], std: number[]) => valueTable(mean, std, (v, m, s) => Math.fround(Math.fround(v - m) / s));

/** Source indices and weights of bilinear interpolation with align_corners=False. */
function bilinearTaps(outSize: number, inSize: number) {
  const scale = Math.fround(inSize / outSize);
  const i0 = new Int32Array(outSize),
    i1 = new Int32Array(outSize);
  const w1 = new Float32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    let src = Math.fround(Math.fround((o + 0.5) * scale) - 0.5);
    if (src < 0) src = 0;
    let a = Math.floor(src);
    if (a > inSize - 1) a = inSize - 1;
    i0[o] = a;
    i1[o] = Math.min(a + 1, inSize - 1);
    w1[o] = src - a;
  }
  return { i0, i1, w1 };
}

/** One low-res logit map (lowH x lowW) upsampled to width x height, as the Python predictor. */
export function upsampleLogits(low: Float32Array, lowH: number, lowW: number, width: number, height: number): Float32Array {
  const ty = bilinearTaps(height, lowH),
    tx = bilinearTaps(width, lowW);
  // Rows first (height x lowW), then columns, like transforms.upsample_logits.
  const rows = new Float32Array(height * lowW);
  for (let y = 0; y < height; y++) {
    const a = ty.i0[y] * lowW,
      b = ty.i1[y] * lowW,
      w = ty.w1[y];
    for (let x = 0; x < lowW; x++) rows[y * lowW + x] = low[a + x] * (1 - w) + low[b + x] * w;
  }
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const r = y * lowW,
      o = y * width;
    for (let x = 0; x < width; x++) {
      const w = tx.w1[x];
      out[o + x] = rows[r + tx.i0[x]] * (1 - w) + rows[r + tx.i1[x]] * w;
    }
  }
  return out;
}

/**
 * SAM1's postprocess_masks, as its ONNX decoder does it: low-res logits up to size x size, the
 * padding cropped away, then up to the image's resolution.
 */
export function upsampleLogitsLongestSide(
  low: Float32Array,
  lowH: number,
  lowW: number,
  width: number,
  height: number,
  size: number,
): Float32Array {
  const [newH, newW] = longestSideShape(width, height, size);
  const square = upsampleLogits(low, lowH, lowW, size, size);
  const cropped = new Float32Array(newH * newW);
  for (let y = 0; y < newH; y++) cropped.set(square.subarray(y * size, y * size + newW), y * newW);
  return upsampleLogits(cropped, newH, newW, width, height);
}

export function threshold(logits: Float32Array, t: number): Uint8Array {
  const bits = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) bits[i] = logits[i] > t ? 1 : 0;
  return bits;
}

/** A translucent fill and/or an opaque outline of the mask, as RGBA pixels. */
export function overlayPixels(
  bits: Uint8Array,
  width: number,
  height: number,
  color: [number, number, number],
  fill: boolean,
  contour: boolean,
): { pixels: Uint8ClampedArray; area: number } {
  const px = new Uint8ClampedArray(width * height * 4);
  let area = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!bits[i]) continue;
      area++;
      const edge =
        contour &&
        (x === 0 || y === 0 || x === width - 1 || y === height - 1 || !bits[i - 1] || !bits[i + 1] || !bits[i - width] || !bits[i + width]);
      if (!edge && !fill) continue;
      const p = i * 4;
      px[p] = color[0];
      px[p + 1] = color[1];
      px[p + 2] = color[2];
      px[p + 3] = edge ? 255 : 110;
    }
  }
  return { pixels: px, area };
}
