// sam2web engine: a small, framework-free API over a Web Worker running onnxruntime-web.
//
//   const engine = await Sam2Engine.create();            // WebGPU, or WASM with a reason why
//   await engine.loadModel(model, (p) => console.log(p)); // download (cached in OPFS), verify
//   await engine.setImage(await createImageBitmap(file)); // encode once per image
//   const r = await engine.decode({ points: [[x, y, 1]], multimask: true });

import type {
  Backend, GraphCaptureChoice, MaskRendererChoice, DecodeResult, EncodeResult, ExportObject, ModelInfo, Progress, Prompt, RenderRequest, RenderedMask,
  Request, WorkerMessage,
} from './protocol';

export type { Backend, GraphCaptureChoice, MaskRendererChoice, DecodeResult, EncodeResult, ExportObject, ModelInfo, Progress, Prompt, RenderRequest, RenderedMask };
export type { Box, Point } from './protocol';
export { SECURE_CONTEXT_HELP, webGpuHelp } from './webgpuHelp';

export class EngineError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
  }
}

export interface EngineInfo {
  backend: Backend;
  fallbackReason: string;
  numThreads: number;
  crossOriginIsolated: boolean;
  adapter: { vendor: string; architecture: string } | null;
  shaderF16: boolean;
  maskRenderer: MaskRendererChoice;
  graphCapture: GraphCaptureChoice;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: (p: Progress) => void;
}

export class Sam2Engine {
  private worker: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private decodeInFlight: Promise<DecodeResult> | null = null;
  private decodeQueued: { prompt: Prompt; resolve: (r: DecodeResult | null) => void; reject: (e: Error) => void } | null = null;
  info!: EngineInfo;
  /** Bumped by every setImage/loadModel: results of older work are dropped, not shown. */
  private generation = 0;

  private constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<WorkerMessage>) => this.receive(e.data);
    this.worker.onerror = (e) => {
      for (const p of this.pending.values()) p.reject(new EngineError(`engine worker failed: ${e.message}`, 'internal'));
      this.pending.clear();
    };
  }

  static async create(options: { backend?: Backend | 'auto'; numThreads?: number; maskRenderer?: MaskRendererChoice; graphCapture?: GraphCaptureChoice } = {}): Promise<Sam2Engine> {
    const engine = new Sam2Engine();
    const threads = options.numThreads ??
      (self.crossOriginIsolated ? Math.min(8, navigator.hardwareConcurrency || 1) : 1);
    engine.info = await engine.call({
      type: 'init', backend: options.backend ?? 'auto', numThreads: threads, maskRenderer: options.maskRenderer ?? 'auto',
      graphCapture: options.graphCapture ?? 'auto',
    }) as EngineInfo;
    return engine;
  }

  /** Called when the GPU device is lost (driver reset, GPU removed...); the engine is unusable. */
  onDeviceLost: ((reason: string) => void) | null = null;

  private receive(msg: WorkerMessage) {
    if ('event' in msg) { this.onDeviceLost?.(msg.reason); return; }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if ('progress' in msg) { p.onProgress?.(msg.progress); return; }
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new EngineError(msg.error, msg.code ?? 'internal'));
  }

  private call(request: Request, transfer: Transferable[] = [],
    onProgress?: (p: Progress) => void): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ id, request }, transfer);
    });
  }

  /** Download (or take from the OPFS cache), verify and open a model's two sessions. */
  async loadModel(model: ModelInfo, onProgress?: (p: Progress) => void): Promise<{ sessionMs: number; warmupMs: number }> {
    this.generation++;
    return this.call({ type: 'load', model }, [], onProgress) as Promise<{ sessionMs: number; warmupMs: number }>;
  }

  /** Encode an image (any size; squashed to the model's input, never cropped). */
  async setImage(image: ImageBitmap): Promise<EncodeResult | null> {
    const generation = ++this.generation;
    const result = await this.call({ type: 'setImage', image }, [image]);
    return generation === this.generation ? result as EncodeResult : null;
  }

  /**
   * Decode a prompt. While one decode runs, newer requests replace each other (the latest wins),
   * so fast pointer movement never builds a backlog; a superseded request resolves to null.
   */
  decode(prompt: Prompt): Promise<DecodeResult | null> {
    const generation = this.generation;
    if (this.decodeInFlight) {
      this.decodeQueued?.resolve(null);
      return new Promise((resolve, reject) => { this.decodeQueued = { prompt, resolve, reject }; });
    }
    const run = this.call({ type: 'decode', prompt }) as Promise<DecodeResult>;
    this.decodeInFlight = run;
    const settle = () => {
      this.decodeInFlight = null;
      const next = this.decodeQueued;
      this.decodeQueued = null;
      if (next) this.decode(next.prompt).then(next.resolve, next.reject);
    };
    return run.then((r) => { settle(); return generation === this.generation ? r : null; },
      (e) => { settle(); throw e; });
  }

  /** Overlay bitmaps (translucent fill and/or contour) at the image's resolution. */
  render(masks: RenderRequest[]): Promise<RenderedMask[]> {
    return this.call({ type: 'render', masks }) as Promise<RenderedMask[]>;
  }

  /** 'mask' / 'cutout' PNG of the first object; 'coco' JSON (RLE) or 'svg' of all objects. */
  exportMasks(kind: 'mask' | 'cutout' | 'coco' | 'svg', objects: ExportObject[], threshold: number,
    fileName: string): Promise<Blob> {
    return this.call({ type: 'export', kind, objects, threshold, fileName }) as Promise<Blob>;
  }

  /** Destroy the GPU device, as a driver reset would: for testing recovery. */
  loseDeviceForTesting(): Promise<unknown> {
    return this.call({ type: 'loseDevice' });
  }

  cacheInfo(): Promise<{ files: number; bytes: number; usage: number; quota: number }> {
    return this.call({ type: 'cacheInfo' }) as Promise<{ files: number; bytes: number; usage: number; quota: number }>;
  }

  clearCache(): Promise<void> {
    return this.call({ type: 'clearCache' }) as Promise<void>;
  }

  dispose() {
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(new EngineError('engine disposed', 'disposed'));
    this.pending.clear();
  }
}
