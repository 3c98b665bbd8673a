// Messages between the engine (main thread) and its worker. One request, one reply, matched by id.

export type Backend = 'webgpu' | 'wasm';

/** Where masks are drawn: 'auto' = WebGL2 on a hardware GPU, JavaScript where WebGL is emulated
 * on the CPU (slower there than plain JavaScript); 'webgl2' / 'js' force one. */
export type MaskRendererChoice = 'auto' | 'webgl2' | 'js';
/** Replaying recorded decoder runs (WebGPU graph capture): 'auto' uses it on hardware GPUs. */
export type GraphCaptureChoice = 'auto' | 'on' | 'off';

export interface ModelFile {
  url: string;
  bytes: number;
  sha256: string;
}

/** What the engine needs to know about a model bundle (the server's /api/models entry). */
export interface ModelInfo {
  id: string;
  label: string;
  family: 'sam2' | 'sam1';
  model_id?: string | null;
  builtin?: boolean;
  precision: string;
  random_weights: boolean;
  bytes: number;
  urls: { encoder: string; decoder: string };
  manifest: {
    input_size: number;
    mean: number[];
    std: number[];
    pixel_scale?: number;
    mask_threshold?: number;
    files: { encoder: { bytes: number; sha256: string }; decoder: { bytes: number; sha256: string } };
    [key: string]: unknown;
  };
}

export interface Progress {
  /** 'wait': another tab of this site is downloading the same file; it is read from the cache after. */
  phase: 'wait' | 'download' | 'verify' | 'compile';
  file: string;
  loaded: number;
  total: number;
  bytesPerSecond: number;
  fromCache: boolean;
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
}

export interface ExportObject {
  name: string;
  /** Identifies the mask version, so the worker can reuse its upsampled logits. */
  key: string;
  lowRes: Float32Array;
  color: [number, number, number];
  score: number;
}

export interface RenderRequest {
  objectId: number;
  key: string;
  lowRes: Float32Array; // 256 x 256 logits of the chosen mask
  color: [number, number, number];
  threshold: number;
  fill: boolean;
  contour: boolean;
}

export interface RenderedMask {
  objectId: number;
  bitmap: ImageBitmap;
  area: number;
  renderMs: number;
  /** Where the mask was drawn: WebGL2 on the GPU, or JavaScript where WebGL2 is unavailable. */
  renderer: 'webgl2' | 'js';
}

export type Request =
  | { type: 'init'; backend: Backend | 'auto'; numThreads: number; maskRenderer: MaskRendererChoice; graphCapture: GraphCaptureChoice }
  | { type: 'load'; model: ModelInfo }
  | { type: 'setImage'; image: ImageBitmap }
  | { type: 'decode'; prompt: Prompt }
  | { type: 'render'; masks: RenderRequest[] }
  | { type: 'export'; kind: 'mask' | 'cutout' | 'coco' | 'svg'; objects: ExportObject[]; threshold: number; fileName: string }
  | { type: 'loseDevice' }
  | { type: 'cacheInfo' }
  | { type: 'clearCache' };

export type WorkerMessage =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; code?: string }
  | { id: number; progress: Progress }
  | { id: 0; event: 'device-lost'; reason: string };
