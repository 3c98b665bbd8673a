// The arithmetic of "segment everything", as the Python generator does it (sam2web/predict/amg.py,
// the official sam2/utils/amg.py and torchvision's box ops): point grids, crop boxes, stability
// scores, mask boxes, greedy NMS, the crop-edge filter, and COCO RLE of a crop's mask placed in
// the whole image. Pure functions; the worker's everything.ts strings them together.
//
// Conventions kept from the official code: boxes are XYXY with the last row and column inside the
// mask (x1 = rightmost pixel), an empty mask has the box [0, 0, 0, 0].

/** n*n points (x, y interleaved) evenly spaced in [0, 1]^2 at the centres of an n x n tiling,
 * row by row (x fastest), as build_point_grid. */
export function buildPointGrid(n: number): Float64Array {
  const out = new Float64Array(n * n * 2);
  const offset = 1 / (2 * n);
  // np.linspace(offset, 1 - offset, n): start + i * step, the last one exactly the end.
  const start = offset,
    stop = 1 - offset;
  const step = (stop - start) / (n - 1); // np.linspace: i * step + start, the last one exactly stop
  const side = Array.from({ length: n }, (_, i) => (n === 1 ? start : i === n - 1 ? stop : i * step + start));
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      out[(r * n + c) * 2] = side[c];
      out[(r * n + c) * 2 + 1] = side[r];
    }
  }
  return out;
}

/** Points a side per crop layer: int(pointsPerSide / factor**i). */
export function layerSides(pointsPerSide: number, cropNLayers: number, factor: number): number[] {
  return Array.from({ length: cropNLayers + 1 }, (_, i) => Math.trunc(pointsPerSide / factor ** i));
}

export type Xyxy = [number, number, number, number];

/** The whole image, then (2**(i+1))**2 overlapping crops for layer i (XYXY, pixels), as
 * generate_crop_boxes; with the layer of each. */
export function generateCropBoxes(
  width: number,
  height: number,
  nLayers: number,
  overlapRatio: number,
): { boxes: Xyxy[]; layers: number[] } {
  const boxes: Xyxy[] = [[0, 0, width, height]];
  const layers = [0];
  const shortSide = Math.min(width, height);
  const cropLen = (orig: number, n: number, overlap: number) => Math.ceil((overlap * (n - 1) + orig) / n);
  for (let i = 0; i < nLayers; i++) {
    const perSide = 2 ** (i + 1);
    const overlap = Math.trunc(overlapRatio * shortSide * (2 / perSide));
    const cw = cropLen(width, perSide, overlap);
    const ch = cropLen(height, perSide, overlap);
    const x0s = Array.from({ length: perSide }, (_, k) => Math.trunc((cw - overlap) * k));
    const y0s = Array.from({ length: perSide }, (_, k) => Math.trunc((ch - overlap) * k));
    for (const x0 of x0s) {
      for (const y0 of y0s) {
        boxes.push([x0, y0, Math.min(x0 + cw, width), Math.min(y0 + ch, height)]);
        layers.push(i + 1);
      }
    }
  }
  return { boxes, layers };
}

/** IoU of the mask binarized at threshold + offset and at threshold - offset (NaN when both are
 * empty, as officially: no threshold keeps it). */
export function stabilityScore(logits: Float32Array, threshold: number, offset: number): number {
  const hi = Math.fround(threshold + offset),
    lo = Math.fround(threshold - offset);
  let inner = 0,
    outer = 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > hi) inner++;
    if (v > lo) outer++;
  }
  return inner / outer;
}

/** XYXY box (last pixel inside) of a binary mask; [0, 0, 0, 0] when empty. */
export function maskBox(bits: Uint8Array, width: number, height: number): Xyxy {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (!bits[row + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      y1 = y;
    }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1];
}

/** Greedy NMS with torchvision's semantics: descending score, ties in input order (a stable
 * sort); a box goes when its IoU (float32: inter / (a + b - inter)) with a kept box is above the
 * threshold; zero-area boxes suppress nothing. -> kept indices, best first. */
export function nms(boxes: ArrayLike<number>[], scores: ArrayLike<number>, iouThreshold: number): number[] {
  const f = Math.fround;
  const n = boxes.length;
  const s = Float32Array.from(scores);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b] - s[a] || a - b);
  const area = boxes.map((b) => f(f(b[2] - b[0]) * f(b[3] - b[1])));
  const suppressed = new Uint8Array(n);
  const thr = f(iouThreshold);
  const keep: number[] = [];
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (suppressed[i]) continue;
    keep.push(i);
    const bi = boxes[i];
    for (let q = r + 1; q < n; q++) {
      const j = order[q];
      if (suppressed[j]) continue;
      const bj = boxes[j];
      const w = Math.max(0, f(Math.min(bi[2], bj[2]) - Math.max(bi[0], bj[0])));
      const h = Math.max(0, f(Math.min(bi[3], bj[3]) - Math.max(bi[1], bj[1])));
      const inter = f(w * h);
      const iou = f(inter / f(f(area[i] + area[j]) - inter)); // 0 / 0 = NaN: not above
      if (iou > thr) suppressed[j] = 1;
    }
  }
  return keep;
}

/** A box in crop coordinates within `atol` px of a crop edge that is not an image edge. */
export function nearCropEdge(box: Xyxy, crop: Xyxy, image: Xyxy, atol = 20): boolean {
  for (let k = 0; k < 4; k++) {
    const v = box[k] + crop[k % 2];
    if (Math.abs(v - crop[k]) <= atol && !(Math.abs(v - image[k]) <= atol)) return true;
  }
  return false;
}

/** COCO RLE counts of a crop's mask (cw x ch at crop's x0, y0) placed in a width x height
 * image: column-major runs starting with the background, as pycocotools. */
export function uncroppedRle(bits: Uint8Array, cw: number, ch: number, x0: number, y0: number, width: number, height: number): number[] {
  const counts: number[] = [];
  let current = 0,
    run = 0;
  const push = (v: number, n: number) => {
    if (n <= 0) return;
    if (v !== current) {
      counts.push(run);
      run = 0;
      current = v;
    }
    run += n;
  };
  for (let x = 0; x < width; x++) {
    const cx = x - x0;
    if (cx < 0 || cx >= cw) {
      push(0, height);
      continue;
    }
    push(0, y0);
    for (let y = 0; y < ch; y++) push(bits[y * cw + cx] ? 1 : 0, 1);
    push(0, height - y0 - ch);
  }
  counts.push(run);
  return counts;
}

/** Paints the pixels of RLE counts (column-major) into a row-major image: fn(index). */
export function forEachRlePixel(counts: ArrayLike<number>, width: number, height: number, fn: (i: number) => void): void {
  let pos = 0;
  for (let k = 0; k < counts.length; k++) {
    const n = counts[k];
    if (k % 2 === 1) {
      for (let p = pos; p < pos + n; p++) {
        const x = Math.floor(p / height),
          y = p - x * height;
        fn(y * width + x);
      }
    }
    pos += n;
  }
}

export const areaOfRle = (counts: ArrayLike<number>) => {
  let a = 0;
  for (let k = 1; k < counts.length; k += 2) a += counts[k];
  return a;
};
