// sam2web engine: a small, framework-free API over a Web Worker running onnxruntime-web.
//
//   const engine = await Sam2Engine.create();              // WebGPU, or WASM with a reason why
//   await engine.loadModel(model, { onProgress: console.log }); // download (cached in OPFS), verify
//   await engine.setImage(await createImageBitmap(file));   // encode once per image
//   const r = await engine.decode({ points: [[x, y, 1]], multimask: true });
//
// Every call takes an optional AbortSignal; a cancelled call rejects with EngineError('cancelled').

import { deserializeError, EngineError } from './errors';
import type { AdoptResult, EverythingOptions, EverythingProgress, EverythingResult } from './everything';
import { probeCanvas } from './gpuOverlay';
import { Lanes } from './lanes';
import { withAbsoluteUrls } from './modelFiles';
import type {
  AdapterChoice,
  Api,
  Backend,
  CacheInfo,
  DecodeResult,
  EncodeResult,
  EngineInfo,
  ExportKind,
  ExportObject,
  FromWorker,
  GraphCaptureChoice,
  LoadProgress,
  LoadResult,
  MaskRendererChoice,
  MaskStyle,
  ModelInfo,
  PresentResult,
  ProgressOf,
  Prompt,
  RenderedMask,
  RenderRequest,
  Request,
  RequestType,
  Result,
  ShowRequest,
  ToWorker,
} from './protocol';
import { type PageFrameSource, VideoSession } from './video/client';

export type { EngineErrorCode } from './errors';
export type { AdoptResult, EverythingMask, EverythingOptions, EverythingProgress, EverythingResult } from './everything';
export { everythingCoco, maskColor } from './everything';
export type { BundleManifest } from './manifest';
export { capabilityBytes, parseManifest, requireCapability } from './manifest';
export type { Box, Point } from './protocol';
export type { PageFrameSource, PropagateOptions, VideoSession } from './video/client';
export { medianStages, type Stage, type StageTimes } from './video/stageClock';
export type { ObjectMask, TrackerStats, VideoFrameResult } from './video/tracker';
export type { PromptInput } from './video/types';
export { SECURE_CONTEXT_HELP, webGpuHelp } from './webgpuHelp';
export type {
  AdapterChoice,
  Backend,
  CacheInfo,
  DecodeResult,
  EncodeResult,
  EngineInfo,
  ExportKind,
  ExportObject,
  GraphCaptureChoice,
  LoadProgress,
  LoadResult,
  MaskRendererChoice,
  MaskStyle,
  ModelInfo,
  PresentResult,
  Prompt,
  RenderedMask,
  RenderRequest,
  ShowRequest,
};
export { EngineError };

/** What relative URLs given to the engine are relative to: the page (its document's base URL). */
const pageBase = () => (typeof document === 'undefined' ? self.location.href : document.baseURI);

export interface CallOptions<P = never> {
  signal?: AbortSignal;
  onProgress?: (p: P) => void;
}

export interface DecodeOptions extends CallOptions {
  /** A decode of exactly this prompt already asked for (say, a hover preview at the clicked
   * point): its result is taken, in this lane's order, and the decoder runs only if it fails. */
  same?: Promise<DecodeResult | null> | null;
  /** With the WebGPU overlay: draw the mask as this object's at once, from the GPU (the result's
   * `frame` says whether it was). */
  show?: ShowRequest | null;
}

interface Pending {
  /** The reply to request id N is the result of request N's type (the worker answers in kind). */
  resolve: (v: Result<RequestType>) => void;
  reject: (e: Error) => void;
  onProgress?: (p: ProgressOf<RequestType>) => void;
}

export interface EngineOptions {
  backend?: Backend | 'auto';
  numThreads?: number;
  maskRenderer?: MaskRendererChoice;
  graphCapture?: GraphCaptureChoice;
  /** 'compat': WebGPU's compatibility adapter even where a core one exists. */
  adapter?: AdapterChoice;
  /** A tiny canvas on the page to try WebGPU canvases on before the engine opens its device
   * (see attachOverlay); without one the engine never draws on the page itself. */
  probeCanvas?: () => HTMLCanvasElement;
  /** The engine's worker script (default: the one built beside this module). */
  workerUrl?: string | URL;
  /** The folder of onnxruntime-web's runtime files (ort-wasm-simd-threaded[.asyncify].{mjs,wasm});
   * default: ort/ one level above the worker script, where the app and the npm package put them. */
  runtimeUrl?: string | URL;
}

export class Sam2Engine {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly lanes = new Lanes<DecodeResult>();
  info!: EngineInfo;
  /** Bumped by every setImage/loadModel: results of older work are dropped, not shown. */
  private generation = 0;

  /** Whether the engine draws the overlays itself, on the page's canvas (attachOverlay). */
  drawsOverlay = false;
  /** Why WebGPU canvases are not used ('' where they work: probeCanvas). */
  private canvasProblem = '';
  private painted = { frame: 0, at: 0 };
  private readonly frameWaiters: Array<{ frame: number; resolve: (at: number | null) => void }> = [];

  /** Called when the GPU device is lost (driver reset, GPU removed...); the engine is unusable. */
  onDeviceLost: ((reason: string) => void) | null = null;

  private constructor(workerUrl?: string | URL) {
    // The literal `new URL('./worker.ts', import.meta.url)` is what bundlers build the worker from.
    this.worker = workerUrl
      ? new Worker(workerUrl, { type: 'module' })
      : new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new EngineError(`engine worker failed: ${e.message}`, 'internal'));
      this.pending.clear();
    };
  }

  static async create(options: EngineOptions = {}): Promise<Sam2Engine> {
    const renderer = options.maskRenderer ?? 'auto';
    // A forced WebGPU overlay is tried before the worker opens its device: where showing a WebGPU
    // canvas kills the GPU process (CI's SwiftShader/ANGLE), the worker's device survives.
    const canvasProblem =
      options.backend === 'wasm' || renderer !== 'webgpu'
        ? `mask renderer ${renderer}`
        : options.probeCanvas
          ? await probeCanvas(options.probeCanvas(), true)
          : 'no canvas to try';
    const engine = new Sam2Engine(options.workerUrl);
    engine.canvasProblem = canvasProblem;
    const numThreads = options.numThreads ?? (self.crossOriginIsolated ? Math.min(8, navigator.hardwareConcurrency || 1) : 1);
    engine.info = await engine.call({
      type: 'init',
      backend: options.backend ?? 'auto',
      numThreads,
      maskRenderer: renderer,
      graphCapture: options.graphCapture ?? 'auto',
      adapter: options.adapter ?? 'auto',
      ...(options.runtimeUrl ? { runtimeUrl: new URL(options.runtimeUrl, pageBase()).href } : {}),
    });
    // 'auto' uses the WebGPU overlay on a hardware adapter: a click's mask is on screen a frame
    // sooner (benchmarks/results/browser-h100/). Tried only once the worker has found one, so a
    // machine without any adapter is never asked again (Chromium warns on every empty request).
    if (renderer === 'auto' && engine.info.backend === 'webgpu' && !engine.info.software) {
      engine.canvasProblem = options.probeCanvas ? await probeCanvas(options.probeCanvas(), false) : 'no canvas to try';
    }
    return engine;
  }

  private receive(msg: FromWorker) {
    if ('event' in msg) {
      if (msg.event === 'painted') {
        this.painted = { frame: msg.frame, at: msg.at };
        for (const w of this.frameWaiters.filter((w) => w.frame <= msg.frame)) w.resolve(msg.at);
        this.frameWaiters.splice(0, this.frameWaiters.length, ...this.frameWaiters.filter((w) => w.frame > msg.frame));
      } else if (msg.event === 'frame-wanted') this.giveFrame(msg.ticket, msg.index);
      else this.onDeviceLost?.(msg.reason);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if ('progress' in msg) {
      p.onProgress?.(msg.progress);
      return;
    }
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(deserializeError(msg));
  }

  /** One request, its typed result; progress events and cancellation as asked. */
  private call<K extends RequestType>(
    request: Request<K>,
    options: CallOptions<ProgressOf<K>> = {},
    transfer: Transferable[] = [],
  ): Promise<Result<K>> {
    const id = this.nextId++;
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(new EngineError(`the ${request.type} request was cancelled`, 'cancelled'));
    return new Promise<Result<K>>((resolve, reject) => {
      const cancel = () => this.worker.postMessage({ cancel: id } satisfies ToWorker);
      signal?.addEventListener('abort', cancel, { once: true });
      const done = () => signal?.removeEventListener('abort', cancel);
      this.pending.set(id, {
        resolve: (v) => {
          done();
          resolve(v as Result<K>);
        },
        reject: (e) => {
          done();
          reject(e);
        },
        onProgress,
      });
      this.worker.postMessage({ id, request: request as Request } satisfies ToWorker, transfer);
    });
  }

  /** The open video's frames, asked for by the worker's tracker. */
  private video: VideoSession | null = null;

  private giveFrame(ticket: number, index: number): void {
    const video = this.video;
    const fail = (error: string) => this.worker.postMessage({ frame: ticket, image: null, error } satisfies ToWorker);
    if (!video || video.closed) {
      fail('the video was closed');
      return;
    }
    video.source.frame(index).then(
      (image) => this.worker.postMessage({ frame: ticket, image } satisfies ToWorker, [image]),
      (e) => fail(`frame ${index} could not be read: ${(e as Error).message}`),
    );
  }

  /** Loads a model's tracking graphs (SAM2: memory tracking; SAM1-family: frame by frame, no
   * SAM2 memory, as `method` says). */
  loadVideoModel(model: ModelInfo, options: CallOptions<LoadProgress> = {}): Promise<Api['videoLoad']['result']> {
    return this.call({ type: 'videoLoad', model }, options);
  }

  /** Opens a video for tracking (the one open before is closed); `source` gives its frames. */
  async openVideo(source: PageFrameSource): Promise<VideoSession> {
    if (this.video) this.video.closed = true;
    await this.call({ type: 'videoOpen', numFrames: source.numFrames, width: source.width, height: source.height });
    this.video = new VideoSession((request, options) => this.call(request, options), source);
    return this.video;
  }

  /** Download (or take from the OPFS cache), verify and open a model's sessions. Relative file
   * URLs are relative to the page (its document's base URL). */
  loadModel(model: ModelInfo, options: CallOptions<LoadProgress> = {}): Promise<LoadResult> {
    this.generation++;
    this.lanes.clear();
    return this.call({ type: 'load', model: withAbsoluteUrls(model, pageBase()) }, options);
  }

  /** Encode an image (any size; squashed or fitted to the model's input, never cropped); null
   * when a newer image or model superseded it meanwhile. The bitmap is handed over (closed). */
  async setImage(image: ImageBitmap, options: CallOptions = {}): Promise<EncodeResult | null> {
    const generation = ++this.generation;
    this.lanes.clear();
    const result = await this.call({ type: 'setImage', image }, options, [image]);
    return generation === this.generation ? result : null;
  }

  /**
   * Decode a prompt (or a function giving it) on the current image. Requests in one `lane` (say, one per object, and one
   * for hover previews) replace each other while one of them runs: the latest wins, a superseded
   * request resolves to null, and a lane never delays or drops another lane's requests. Results
   * of an older image or model also resolve to null.
   */
  decode(prompt: Prompt | (() => Prompt), lane = 'default', options: DecodeOptions = {}): Promise<DecodeResult | null> {
    const generation = this.generation;
    // A function is called when the request starts (after the lane's running one), so the prompt
    // can depend on that request's result, as refinement from the previous mask does.
    const promptNow = typeof prompt === 'function' ? prompt : () => prompt;
    const { same, show, ...call } = options;
    const run = async () =>
      (same ? await same.catch(() => null) : null) ?? this.call({ type: 'decode', prompt: promptNow(), show: show ?? null }, call); // drawn by the engine's overlay, or as a bitmap
    return this.lanes.submit(lane, run).then((r) => (generation === this.generation ? r : null));
  }

  /** Overlay bitmaps (translucent fill and/or contour) at the image's resolution. */
  render(masks: RenderRequest[]): Promise<RenderedMask[]> {
    return this.call({ type: 'render', masks });
  }

  /** Hands the page's overlay canvas to the engine where it draws the masks itself: WebGPU on a
   * hardware GPU (or mask renderer 'webgpu'), where the browser shows WebGPU canvases (tried at
   * `create` on EngineOptions.probeCanvas). The canvas is asked for only then. '' when attached,
   * else why not: the page keeps drawing the bitmaps `render` gives. */
  async attachOverlay(canvas: () => OffscreenCanvas): Promise<string> {
    const { backend, maskRenderer, software } = this.info;
    if (backend !== 'webgpu') return 'WebGPU is not in use';
    if (maskRenderer !== 'webgpu' && (maskRenderer !== 'auto' || software))
      return `mask renderer ${maskRenderer}${software ? ' on a CPU-emulated adapter' : ''}`;
    if (this.canvasProblem) return this.canvasProblem;
    const c = canvas();
    this.drawsOverlay = await this.call({ type: 'attachOverlay', canvas: c }, {}, [c]);
    return this.drawsOverlay ? '' : 'no WebGPU canvas context in the engine';
  }

  /** With the WebGPU overlay: `layers` (re)drawn from their logits, objects not in `keep` dropped. */
  present(layers: RenderRequest[], keep: number[]): Promise<PresentResult> {
    return this.call({ type: 'present', layers, keep });
  }

  /** When (epoch ms) the screen's frame that shows overlay frame `frame` began; null if none
   * came within a second (a hidden page draws no frames). */
  frameShown(frame: number): Promise<number | null> {
    if (this.painted.frame >= frame) return Promise.resolve(this.painted.at);
    return new Promise((resolve) => {
      const waiter = { frame, resolve };
      this.frameWaiters.push(waiter);
      setTimeout(() => {
        const i = this.frameWaiters.indexOf(waiter);
        if (i >= 0) this.frameWaiters.splice(i, 1);
        resolve(null);
      }, 1000);
    });
  }

  /** 'mask' / 'cutout' PNG of the first object; 'coco' JSON (RLE) or 'svg' of all objects. */
  exportMasks(kind: ExportKind, objects: ExportObject[], threshold: number, fileName: string, options: CallOptions = {}): Promise<Blob> {
    return this.call({ type: 'export', kind, objects, threshold, fileName }, options);
  }

  /** Segment everything on the current image (the official automatic mask generator, in the
   * worker): progress per batch of grid points, with that batch's new masks painted; cancel with
   * the signal. null when a newer image or model superseded it meanwhile. */
  async segmentEverything(options: EverythingOptions = {}, call: CallOptions<EverythingProgress> = {}): Promise<EverythingResult | null> {
    const generation = this.generation;
    const result = await this.call({ type: 'everything', options }, call);
    if (generation === this.generation) return result;
    result.colorMap.close();
    return null;
  }

  /** Mask `index` of the last segment-everything result, drawn in `color` (hover highlights). */
  everythingMask(index: number, color: [number, number, number]): Promise<ImageBitmap> {
    return this.call({ type: 'everythingMask', index, color });
  }

  /** Mask `index` of the last segment-everything result as an object: its grid point decoded as a
   * click, and the candidate closest to the mask. */
  adoptEverything(index: number): Promise<AdoptResult> {
    return this.call({ type: 'everythingAdopt', index });
  }

  cacheInfo(): Promise<CacheInfo> {
    return this.call({ type: 'cacheInfo' });
  }

  async clearCache(): Promise<void> {
    await this.call({ type: 'clearCache' });
  }

  /** Testing: destroy the GPU device, as a driver reset would. */
  async loseDeviceForTesting(): Promise<void> {
    await this.call({ type: 'loseDevice' });
  }

  /** Testing: decodes wait (as behind a slow GPU) while held. */
  /** Low-res logits (256x256) for a mask of the current image (`bits`, one byte per pixel, row
   * by row) in the loaded model's geometry: an imported annotation as an object to refine (as
   * a decode's `maskInput`, or drawn like a decoded mask, as closely as 256x256 allows). */
  maskToLowRes(bits: Uint8Array, options: CallOptions = {}): Promise<Float32Array> {
    return this.call({ type: 'maskToLowRes', bits }, options);
  }

  async holdDecodesForTesting(hold: boolean): Promise<void> {
    await this.call({ type: 'holdDecodes', hold });
  }

  /** Testing: the next graph-capture recording fails after its buffers were made. */
  async failNextCaptureForTesting(): Promise<void> {
    await this.call({ type: 'failNextCapture' });
  }

  dispose() {
    this.worker.terminate();
    this.lanes.clear();
    for (const p of this.pending.values()) p.reject(new EngineError('engine disposed', 'disposed'));
    this.pending.clear();
  }
}

export type { Api };
