// Messages between the engine (page side, index.ts) and its worker. Each request type maps to
// exactly one result type (and, where it reports progress, one progress type) in `Api`; one
// request gets one reply, matched by id. A request can be cancelled (`{ cancel: id }`), and the
// worker's errors arrive as the engine's one error type (errors.ts).

import type { EngineErrorCode } from './errors';
import type { AdoptResult, EverythingOptions, EverythingProgress, EverythingResult } from './everything';
import type { AdapterChoice } from './gpuDevice';
import type { BundleManifest } from './manifest';
import type { PreprocessingCheck, TrackerStats, VideoFrameResult } from './video/tracker';
import type { PromptInput } from './video/types';

export type Backend = 'webgpu' | 'wasm';

/** Where masks are drawn: 'auto' = on a hardware GPU with the WebGPU backend, the engine draws
 * with WebGPU straight onto the page from the decoder's GPU outputs where the browser shows
 * WebGPU canvases (else WebGL2 bitmaps); JavaScript where the GPU is emulated on the CPU (slower
 * there than plain JavaScript); 'webgpu' / 'webgl2' / 'js' force one (benchmarks/results/browser-h100/). */
export type MaskRendererChoice = 'auto' | 'webgpu' | 'webgl2' | 'js';
/** Replaying recorded decoder runs (WebGPU graph capture): 'auto' uses it on hardware GPUs. */
export type GraphCaptureChoice = 'auto' | 'on' | 'off';

/** One file to fetch: where, and what it must be. */
export interface ModelFile {
  url: string;
  bytes: number;
  sha256: string;
  /** A file served in consecutive parts (modelFiles.ts). */
  parts?: { partBytes: number; urls: string[] };
}

/** A model as the server lists it (`/api/models`; the same keys as `sam2web models list --json`,
 * plus the manifest and a URL per file role). */
export interface ModelInfo {
  id: string;
  label: string;
  family: 'sam2' | 'sam1';
  model_id?: string | null;
  size?: string | null;
  precision: string;
  capabilities: string[];
  random_weights: boolean;
  builtin?: boolean;
  /** All the bundle's files; `download_bytes`: per capability, what using it fetches (the app
   * fetches the image capability's: capabilityBytes in manifest.ts computes the same). */
  bytes: number;
  download_bytes: Record<string, number>;
  urls: Record<string, string>;
  /** Files split into parts by a static site (`sam2web build-site`): see modelFiles.ts. */
  parts?: Record<string, { part_bytes: number; urls: string[] }>;
  manifest: BundleManifest;
}

export interface EngineInfo {
  backend: Backend;
  fallbackReason: string;
  numThreads: number;
  software: boolean;
  crossOriginIsolated: boolean;
  adapter: { vendor: string; architecture: string } | null;
  shaderF16: boolean;
  /** The device has the 'subgroups' feature (asked for only where it is safe: gpuDevice.ts). */
  subgroups: boolean;
  maskRenderer: MaskRendererChoice;
  graphCapture: GraphCaptureChoice;
  /** The adapter asked for ('compat': the compatibility adapter even where a core one exists). */
  adapterChoice: AdapterChoice;
}

export type { AdapterChoice };

export interface LoadProgress {
  /** 'wait': another tab of this site is downloading the same file; it is read from the cache after. */
  phase: 'wait' | 'download' | 'verify' | 'compile';
  file: string;
  loaded: number;
  total: number;
  bytesPerSecond: number;
  fromCache: boolean;
}

export interface LoadResult {
  sessionMs: number;
  warmupMs: number;
}

/** A point is [x, y, label] in original image pixels; label 1 positive, 0 negative. */
export type Point = [number, number, number];
export type Box = [number, number, number, number];

export interface Prompt {
  points: Point[];
  box?: Box | null;
  /** Low-res logits (256*256) of an earlier mask of the same object, for refinement. */
  maskInput?: Float32Array | null;
  multimask: boolean;
}

export interface EncodeResult {
  width: number;
  height: number;
  preprocessMs: number;
  encodeMs: number;
  /** Where the image features live: 'gpu-buffer' on WebGPU (the decoder reads them there), 'cpu'. */
  featuresLocation: string;
}

export interface DecodeResult {
  /** numMasks x 256 x 256 low-res logits, clamped to [-32, 32] like the official predictor. */
  lowRes: Float32Array;
  scores: Float32Array;
  numMasks: number;
  decodeMs: number;
  /** Whether the click replayed a recorded (graph-captured) decoder run. */
  captured: boolean;
  /** Why graph capture is off for this model ('' when it is not, or was never wanted). */
  captureFailure: string;
  /** ONNX Runtime sessions the engine has created so far (they are made per model, not per click). */
  sessions: number;
  /** GPU buffers the engine's captured decoders hold right now (0 without graph capture). */
  gpuBuffers: number;
  /** Decoder runs of the engine so far. */
  decodes: number;
  /** The overlay frame this decode drew on the page from the GPU (DecodeRequest.show), or null
   * where it was not drawn (no WebGPU overlay, or a run that was not replayed). */
  frame: number | null;
  /** The drawn mask's pixel count (with `frame`). */
  area: number | null;
  /** Where the page draws bitmaps: the best candidate's overlay, drawn in the same request
   * (DecodeRequest.show), so a click needs no second round trip to the worker; else null. */
  rendered: RenderedMask | null;
}

/** Draw the decoded mask at once as this object's overlay (WebGPU overlay, replayed runs). */
export interface ShowRequest {
  objectId: number;
  style: MaskStyle;
}

export interface MaskStyle {
  color: [number, number, number];
  threshold: number;
  fill: boolean;
  contour: boolean;
}

/** The WebGPU overlay's answer: the areas of the layers sent, and the frame that shows them. */
export interface PresentResult {
  areas: [number, number][];
  renderMs: number;
  frame: number;
}

export interface ExportObject {
  name: string;
  /** Identifies the mask version, so the worker can reuse its upsampled logits. */
  key: string;
  lowRes: Float32Array;
  color: [number, number, number];
  score: number;
}

export type ExportKind = 'mask' | 'cutout' | 'coco' | 'svg' | 'yolo' | 'labelme' | 'cvat';

export interface RenderRequest extends MaskStyle {
  objectId: number;
  key: string;
  lowRes: Float32Array; // 256 x 256 logits of the chosen mask
}

export interface RenderedMask {
  objectId: number;
  bitmap: ImageBitmap;
  area: number;
  renderMs: number;
  /** Where the mask was drawn: WebGL2 on the GPU, or JavaScript where WebGL2 is unavailable. */
  renderer: 'webgl2' | 'js';
}

export interface CacheInfo {
  files: number;
  bytes: number;
  usage: number;
  quota: number;
}

/** A request with no fields besides its type. */
type NoFields = Record<never, never>;

/** Every request the worker answers: its fields, its result, its progress events. */
export interface Api {
  init: {
    request: {
      backend: Backend | 'auto';
      numThreads: number;
      maskRenderer: MaskRendererChoice;
      graphCapture: GraphCaptureChoice;
      adapter: AdapterChoice;
      /** Where onnxruntime-web's runtime files (.mjs + .wasm) are, absolute; default: ort/ one
       * level above the worker script. */
      runtimeUrl?: string;
    };
    result: EngineInfo;
    progress: never;
  };
  load: { request: { model: ModelInfo }; result: LoadResult; progress: LoadProgress };
  setImage: { request: { image: ImageBitmap }; result: EncodeResult; progress: never };
  decode: { request: { prompt: Prompt; show?: ShowRequest | null }; result: DecodeResult; progress: never };
  render: { request: { masks: RenderRequest[] }; result: RenderedMask[]; progress: never };
  /** The page's overlay canvas, handed over: masks are drawn there with WebGPU from now on
   * (false: this engine cannot, and the page keeps drawing bitmaps). */
  attachOverlay: { request: { canvas: OffscreenCanvas }; result: boolean; progress: never };
  /** WebGPU overlay: these layers (re)drawn, every object not in `keep` dropped. */
  present: { request: { layers: RenderRequest[]; keep: number[] }; result: PresentResult; progress: never };
  export: { request: { kind: ExportKind; objects: ExportObject[]; threshold: number; fileName: string }; result: Blob; progress: never };
  cacheInfo: { request: NoFields; result: CacheInfo; progress: never };
  clearCache: { request: NoFields; result: null; progress: never };
  /** Segment everything on the current image (everything.ts); progress streams each batch. */
  everything: { request: { options: EverythingOptions }; result: EverythingResult; progress: EverythingProgress };
  /** Mask `index` of the last segment-everything result, drawn (hover highlight). */
  everythingMask: { request: { index: number; color: [number, number, number] }; result: ImageBitmap; progress: never };
  /** Mask `index` of the last segment-everything result as an object (its point decoded). */
  everythingAdopt: { request: { index: number }; result: AdoptResult; progress: never };
  /** A mask of the current image's size as low-res logits to refine (maskToLowRes.ts). */
  maskToLowRes: { request: { bits: Uint8Array }; result: Float32Array; progress: never };
  /** Video tracking (video/): the model's tracking graphs, loaded beside (not instead of) the
   * image model; `method` says how it tracks ('SAM2 memory', or SAM1-family 'frame by frame, no
   * SAM2 memory'). */
  videoLoad: { request: { model: ModelInfo }; result: { method: string; hasMemory: boolean; loadMs: number }; progress: LoadProgress };
  /** A video to track on (the one before is closed); its frames are asked of the page
   * ('frame-wanted' events) when the tracker needs them. */
  videoOpen: { request: { numFrames: number; width: number; height: number }; result: null; progress: never };
  /** Points and/or a box for one object on one frame -> every object's mask on that frame. */
  videoPrompt: { request: { frameIdx: number; objId: number; prompt: PromptInput }; result: VideoFrameResult; progress: never };
  /** Starts a propagation -> the frames it will visit, in order (each then one `videoStep`). */
  videoStart: {
    request: { startFrame: number | null; maxFrames: number | null; reverse: boolean; syncStages?: boolean };
    result: number[];
    progress: never;
  };
  videoStep: { request: { frameIdx: number; reverse: boolean }; result: VideoFrameResult; progress: never };
  /** One object's prompts on one frame removed -> every object's mask on that frame. */
  videoClearPrompts: { request: { frameIdx: number; objId: number }; result: VideoFrameResult; progress: never };
  videoRemoveObject: { request: { objId: number }; result: null; progress: never };
  videoReset: { request: NoFields; result: null; progress: never };
  videoClose: { request: NoFields; result: null; progress: never };
  videoStats: { request: NoFields; result: TrackerStats; progress: never };
  /** Checking: a frame preprocessed on the GPU (WebGPU) against the CPU reference. */
  videoCheckPreprocessing: { request: { frameIdx: number }; result: PreprocessingCheck; progress: never };
  /** Testing: destroy the GPU device, as a driver reset would. */
  loseDevice: { request: NoFields; result: null; progress: never };
  /** Testing: hold decodes (they wait, as behind a slow GPU) until released. Answered at once. */
  holdDecodes: { request: { hold: boolean }; result: null; progress: never };
  /** Testing: the next graph capture fails after its buffers were made (as a failed recording). */
  failNextCapture: { request: NoFields; result: null; progress: never };
}

export type RequestType = keyof Api;
export type Request<K extends RequestType = RequestType> = { [P in K]: { type: P } & Api[P]['request'] }[K];
export type Result<K extends RequestType> = Api[K]['result'];
export type ProgressOf<K extends RequestType> = Api[K]['progress'];

/** Requests the worker answers at once, outside its one-at-a-time queue (a lost device, as a
 * driver reset, strikes whatever is running: a long segment-everything run, say). */
export const IMMEDIATE: ReadonlySet<RequestType> = new Set<RequestType>(['holdDecodes', 'failNextCapture', 'loseDevice']);

/** Page -> worker; `frame` answers a 'frame-wanted' event (the frame's pixels, or why not). */
export type ToWorker = { id: number; request: Request } | { cancel: number } | { frame: number; image: ImageBitmap | null; error?: string };

/** Worker -> page. */
export type FromWorker =
  | { id: number; ok: true; result: Result<RequestType> }
  | { id: number; ok: false; error: string; code: EngineErrorCode }
  | { id: number; progress: ProgressOf<RequestType> }
  | { event: 'device-lost'; reason: string }
  /** The WebGPU overlay's frame `frame` reached the screen's next frame at `at` (epoch ms). */
  | { event: 'painted'; frame: number; at: number }
  /** The tracker needs frame `index` of the open video: the page answers with `{ frame: ticket }`. */
  | { event: 'frame-wanted'; ticket: number; index: number };

/** The bitmaps in a result, moved (not copied) to the page. */
export function transferablesOf(result: unknown): Transferable[] {
  if (typeof ImageBitmap !== 'undefined' && result instanceof ImageBitmap) return [result];
  if (result && typeof result === 'object' && 'rendered' in result) {
    const rendered = (result as { rendered: RenderedMask | null }).rendered;
    return rendered ? [rendered.bitmap] : [];
  }
  if (Array.isArray(result)) return result.flatMap((r) => (r && typeof r === 'object' && 'bitmap' in r ? [r.bitmap as ImageBitmap] : []));
  if (result && typeof result === 'object' && typeof ImageBitmap !== 'undefined') {
    // Segment everything: a progress event's layer, a result's colour map and label map.
    const r = result as { layer?: unknown; colorMap?: unknown; labels?: unknown };
    const moved: Transferable[] = [];
    if (r.layer instanceof ImageBitmap) moved.push(r.layer);
    if (r.colorMap instanceof ImageBitmap) moved.push(r.colorMap);
    if (r.colorMap && r.labels instanceof Uint16Array) moved.push(r.labels.buffer as ArrayBuffer);
    return moved;
  }
  return [];
}
