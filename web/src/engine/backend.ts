// The worker's compute backend: WebGPU on the adapter gpuDevice.ts picks, or WASM with the reason
// why; the onnxruntime-web build that goes with it; session options; the lost-device state.

import { EngineError } from './errors';
import type { Family } from './families';
import { openGpuDevice } from './gpuDevice';
import type { Api, Backend as BackendKind, EngineInfo, GraphCaptureChoice, MaskRendererChoice } from './protocol';
import { type InferenceSession, loadRuntime } from './runtime';

export class Backend {
  private lostReason = '';

  private constructor(
    readonly kind: BackendKind,
    readonly device: GPUDevice | null,
    /** A CPU-emulated adapter (SwiftShader): GPU-only shortcuts cost more than they save there. */
    readonly software: boolean,
    readonly info: EngineInfo,
  ) {}

  /** Opens the GPU device (unless WASM is asked for) and loads the matching runtime build;
   * `onLost` is told once if the device goes away later. */
  static async create(options: Api['init']['request'], onLost: (reason: string) => void): Promise<Backend> {
    let device: GPUDevice | null = null;
    let software = false;
    let fallbackReason = 'WASM was chosen';
    if (options.backend !== 'wasm') {
      const choice = await openGpuDevice(options.adapter);
      if ('reason' in choice) fallbackReason = choice.reason;
      else ({ device, software } = choice);
    }
    const kind: BackendKind = device ? 'webgpu' : 'wasm';
    // By default the runtime files sit in ort/ beside assets/, which holds the worker (see
    // vite.config.ts; the npm package has the same layout).
    const runtimeUrl = options.runtimeUrl ?? new URL('../ort/', self.location.href).href;
    await loadRuntime(kind, runtimeUrl, options.numThreads);
    const adapter = device ? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo : undefined;
    const info: EngineInfo = {
      backend: kind,
      fallbackReason: device ? '' : fallbackReason,
      numThreads: options.numThreads,
      software,
      crossOriginIsolated: self.crossOriginIsolated,
      adapter: adapter ? { vendor: adapter.vendor, architecture: adapter.architecture } : null,
      shaderF16: device?.features.has('shader-f16') ?? false,
      subgroups: device?.features.has('subgroups' as GPUFeatureName) ?? false,
      maskRenderer: options.maskRenderer,
      graphCapture: options.graphCapture,
      adapterChoice: options.adapter,
    };
    const backend = new Backend(kind, device, software, info);
    void device?.lost.then((lost) => {
      backend.lostReason = lost.message || lost.reason || 'unknown reason';
      onLost(backend.lostReason);
    });
    return backend;
  }

  get lost(): string {
    return this.lostReason;
  }

  get rendererChoice(): MaskRendererChoice {
    return this.info.maskRenderer;
  }

  get captureChoice(): GraphCaptureChoice {
    return this.info.graphCapture;
  }

  /** Throws the 'device-lost' error once the GPU device is gone. */
  check(): void {
    if (this.lostReason) throw new EngineError(`the GPU device was lost (${this.lostReason})`, 'device-lost');
  }

  /** outputsOnGpu: the session's outputs stay in GPU buffers (the encoder's features, which the
   * decoder reads there on every click). */
  sessionOptions(outputsOnGpu: boolean): InferenceSession.SessionOptions {
    if (this.kind === 'webgpu') {
      return {
        executionProviders: [{ name: 'webgpu', device: this.device } as unknown as InferenceSession.ExecutionProviderConfig],
        preferredOutputLocation: outputsOnGpu ? 'gpu-buffer' : 'cpu',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      };
    }
    return { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  }

  /** Graph capture where it pays: WebGPU on a hardware GPU (or when asked for), capturable families. */
  wantsCapture(family: Family): boolean {
    if (this.kind !== 'webgpu' || !family.capturable || this.captureChoice === 'off') return false;
    return this.captureChoice === 'on' || !this.software;
  }

  /** A first run on zero inputs pays where pipelines are compiled on first use: hardware GPUs. */
  get warmsUp(): boolean {
    return this.kind === 'webgpu' && !this.software;
  }

  /** Testing: destroy the device, as a driver reset would. */
  loseDevice(): void {
    this.device?.destroy();
  }
}
