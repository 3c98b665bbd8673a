// Decoder clicks replayed from recorded GPU commands (onnxruntime-web graph capture, WebGPU only).
//
// A plain decoder run pays host-side work for each of its ~350 kernels; on an H100 that is most
// of a click (plain vs replayed: benchmarks/results/native-h100/graph-capture). Capture needs
// fixed shapes and fixed buffers, so there is one session per point count (the `num_points`
// axis fixed at creation, which also folds the shape arithmetic away). Every input lives in a
// buffer owned here: the image features are copied in once per image, the prompts are written
// before each replay. The outputs stay in the buffers onnxruntime allocated for the recording
// (the IO binding is pinned after the first run); the two wanted ones are read back from there.
// Handing it our own output buffers instead fails on replay in onnxruntime-web 1.30: the pinned
// outputs keep a buffer handle that was released after the first run, and mapping it back to a
// GPUBuffer works or throws depending on how the handle table was reused.

import { createSession, elementCount, type InferenceSession, runtime, type Tensor } from './runtime';

const FLOAT = 4;
const LOW_RES = 256 * 256;
const FEATURE_NAMES = ['image_embed', 'high_res_feats_0', 'high_res_feats_1'];
const SCORES_AT = 3 * LOW_RES * FLOAT; // where the scores sit in the staging buffer, after the masks
const MAX_SESSIONS = 4; // point counts kept compiled (each holds its own copy of the weights)

interface Slot {
  buffer: GPUBuffer;
  tensor: Tensor;
}

// GPU buffers made here and not yet destroyed: what tests read to find leaks.
let liveBuffers = 0;
function destroy(buffer: GPUBuffer): void {
  buffer.destroy();
  liveBuffers--;
}
/** GPU buffers the captured decoders hold right now. */
export const capturedBuffers = () => liveBuffers;

function disposeAll(values: InferenceSession.OnnxValueMapType): void {
  for (const t of Object.values(values)) t.dispose();
}

function slot(device: GPUDevice, dims: number[]): Slot {
  const bytes = elementCount(dims) * FLOAT;
  liveBuffers++;
  const buffer = device.createBuffer({
    size: Math.ceil(bytes / 16) * 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  return { buffer, tensor: runtime().Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims }) };
}

interface Captured {
  session: InferenceSession;
  inputs: Record<string, Slot>;
}

export class CapturedDecoders {
  private readonly sessions = new Map<number, Captured>();
  private readonly features: Record<string, Slot> = {};
  private readonly staging: GPUBuffer;
  private failed = '';
  private failNext = false;

  constructor(
    private readonly device: GPUDevice,
    private readonly model: Uint8Array,
    featureDims: Record<string, readonly number[]>,
  ) {
    for (const name of FEATURE_NAMES) this.features[name] = slot(device, [...featureDims[name]]);
    liveBuffers++;
    this.staging = device.createBuffer({
      size: (3 * LOW_RES + 4) * FLOAT,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Why capture is off for this model ('' while it works). */
  get failure(): string {
    return this.failed;
  }

  has(points: number): boolean {
    return !this.failed && this.sessions.has(points);
  }

  /** Turns capture off for this model after a failed replay. */
  disable(reason: string): void {
    this.failed = `graph capture failed: ${reason}`;
  }

  /** Copies the encoder's GPU outputs into the buffers every captured session reads. */
  setFeatures(features: Record<string, Tensor>): void {
    const encoder = this.device.createCommandEncoder();
    for (const name of FEATURE_NAMES) {
      const t = features[name];
      encoder.copyBufferToBuffer(t.gpuBuffer as GPUBuffer, 0, this.features[name].buffer, 0, elementCount(t.dims) * FLOAT);
    }
    this.device.queue.submit([encoder.finish()]);
  }

  /** Compiles and records the session for `points` prompt points; false if capture failed
   * (the reason is kept in `failure` and the plain decoder carries on). Nothing it made for a
   * failed recording outlives the failure: the session is released and its buffers destroyed. */
  async prepare(points: number, sample: Record<string, Tensor>): Promise<boolean> {
    if (this.failed) return false;
    if (this.sessions.has(points)) return true;
    let session: InferenceSession | null = null;
    const inputs: Record<string, Slot> = {};
    try {
      session = await createSession(this.model, {
        executionProviders: [{ name: 'webgpu', device: this.device } as unknown as InferenceSession.ExecutionProviderConfig],
        enableGraphCapture: true,
        preferredOutputLocation: 'gpu-buffer',
        freeDimensionOverrides: { num_points: points },
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      for (const [name, t] of Object.entries(sample)) inputs[name] = slot(this.device, [...t.dims]);
      if (this.failNext) {
        this.failNext = false;
        throw new Error('recording failed (fault injected for testing)');
      }
      const captured = { session, inputs };
      disposeAll(await this.replay(captured, sample)); // the first run records the commands
      if (this.sessions.size >= MAX_SESSIONS) {
        const [oldest, old] = this.sessions.entries().next().value as [number, Captured];
        this.sessions.delete(oldest);
        this.dispose(old);
      }
      this.sessions.set(points, captured);
      return true;
    } catch (e) {
      this.failed = `graph capture unavailable: ${(e as Error).message}`;
      void session?.release();
      for (const s of Object.values(inputs)) destroy(s.buffer);
      return false;
    }
  }

  /** Testing: the next recording fails after its buffers were made. */
  failNextRecording(): void {
    this.failNext = true;
  }

  /** Writes the prompts and runs (the first time: records) the decoder; the outputs are views
   * of the recording's own GPU buffers, the same ones on every replay. */
  private async replay(c: Captured, prompts: Record<string, Tensor>): Promise<InferenceSession.OnnxValueMapType> {
    for (const [name, t] of Object.entries(prompts)) {
      this.device.queue.writeBuffer(c.inputs[name].buffer, 0, t.data as Float32Array<ArrayBuffer>);
    }
    const feeds: Record<string, Tensor> = {};
    for (const name of FEATURE_NAMES) feeds[name] = this.features[name].tensor;
    for (const [name, s] of Object.entries(c.inputs)) feeds[name] = s.tensor;
    return c.session.run(feeds);
  }

  /** One click: prompts written, the recording replayed, the wanted masks and scores (the
   * family's output names) read back. `onGpu` sees the outputs where they lie first (the overlay
   * draws from there), so its GPU work is queued before the readback. */
  async run(
    prompts: Record<string, Tensor>,
    [maskName, scoreName]: string[],
    onGpu?: (masks: GPUBuffer, scores: GPUBuffer, numMasks: number) => void,
  ): Promise<{ lowRes: Float32Array; scores: Float32Array }> {
    const points = prompts.point_coords.dims[1];
    const c = this.sessions.get(points);
    if (!c) throw new Error(`no captured decoder for ${points} points`);
    this.sessions.delete(points); // most recently used last
    this.sessions.set(points, c);
    const out = await this.replay(c, prompts);
    const mask = out[maskName],
      score = out[scoreName];
    const maskFloats = elementCount(mask.dims);
    const scoreFloats = elementCount(score.dims);
    onGpu?.(mask.gpuBuffer as GPUBuffer, score.gpuBuffer as GPUBuffer, maskFloats / LOW_RES);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(mask.gpuBuffer as GPUBuffer, 0, this.staging, 0, maskFloats * FLOAT);
    encoder.copyBufferToBuffer(score.gpuBuffer as GPUBuffer, 0, this.staging, SCORES_AT, scoreFloats * FLOAT);
    this.device.queue.submit([encoder.finish()]);
    disposeAll(out); // releases only these views: the pinned IO binding keeps the buffers
    await this.staging.mapAsync(GPUMapMode.READ);
    try {
      const all = new Float32Array(this.staging.getMappedRange());
      return {
        lowRes: all.slice(0, maskFloats),
        scores: all.slice(SCORES_AT / FLOAT, SCORES_AT / FLOAT + scoreFloats),
      };
    } finally {
      this.staging.unmap();
    }
  }

  private dispose(c: Captured): void {
    void c.session.release();
    for (const s of Object.values(c.inputs)) destroy(s.buffer);
  }

  release(): void {
    for (const c of this.sessions.values()) this.dispose(c);
    this.sessions.clear();
    for (const s of Object.values(this.features)) destroy(s.buffer);
    destroy(this.staging);
  }
}
