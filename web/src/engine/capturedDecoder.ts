// Decoder clicks replayed from recorded GPU commands (onnxruntime-web graph capture, WebGPU only).
//
// A plain decoder run pays host-side work for each of its ~350 kernels; on an H100 that is most
// of a click (benchmarks/results/native-h100: ~12-15 ms a click, ~3 ms replayed). Capture needs
// fixed shapes and fixed buffers, so there is one session per point count (the `num_points`
// axis fixed at creation, which also folds the shape arithmetic away), and every input and
// output lives in a buffer owned here: the image features are copied in once per image, the
// prompts are written before each replay, the two wanted outputs are read back after it.

import * as ort from 'onnxruntime-web/webgpu';

const FLOAT = 4;
const LOW_RES = 256 * 256;
const FEATURE_NAMES = ['image_embed', 'high_res_feats_0', 'high_res_feats_1'];
// Every decoder output gets a fixed buffer (a replay writes all of them); a click reads back two.
const OUTPUT_DIMS: Record<string, number[]> = {
  masks: [1, 3, 256, 256], iou_predictions: [1, 3], single_mask: [1, 1, 256, 256], single_iou: [1, 1],
};
const SCORES_AT = 3 * LOW_RES * FLOAT; // where the scores sit in the staging buffer, after the masks
const floats = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const MAX_SESSIONS = 4; // point counts kept compiled (each holds its own copy of the weights)

interface Slot { buffer: GPUBuffer; tensor: ort.Tensor }

function slot(device: GPUDevice, dims: number[]): Slot {
  const bytes = floats(dims) * FLOAT;
  const buffer = device.createBuffer({
    size: Math.ceil(bytes / 16) * 16,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
  return { buffer, tensor: ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims }) };
}

interface Captured {
  session: ort.InferenceSession;
  inputs: Record<string, Slot>;
  outputs: Record<string, Slot>;
}

export class CapturedDecoders {
  private readonly sessions = new Map<number, Captured>();
  private readonly features: Record<string, Slot> = {};
  private readonly staging: GPUBuffer;
  private failed = '';

  constructor(
    private readonly device: GPUDevice,
    private readonly model: Uint8Array,
    featureDims: Record<string, readonly number[]>,
  ) {
    for (const name of FEATURE_NAMES) this.features[name] = slot(device, [...featureDims[name]]);
    this.staging = device.createBuffer({
      size: (3 * LOW_RES + 4) * FLOAT, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
  }

  /** Why capture is off for this model ('' while it works). */
  get failure(): string { return this.failed; }

  has(points: number): boolean { return !this.failed && this.sessions.has(points); }

  /** Turns capture off for this model after a failed replay. */
  disable(reason: string): void {
    this.failed = `graph capture failed: ${reason}`;
  }

  /** Copies the encoder's GPU outputs into the buffers every captured session reads. */
  setFeatures(features: Record<string, ort.Tensor>): void {
    const encoder = this.device.createCommandEncoder();
    for (const name of FEATURE_NAMES) {
      const t = features[name];
      encoder.copyBufferToBuffer(t.gpuBuffer as GPUBuffer, 0, this.features[name].buffer, 0, floats(t.dims) * FLOAT);
    }
    this.device.queue.submit([encoder.finish()]);
  }

  /** Compiles and records the session for `points` prompt points; false if capture failed
   * (the reason is kept in `failure` and the plain decoder carries on). */
  async prepare(points: number, sample: Record<string, ort.Tensor>): Promise<boolean> {
    if (this.failed) return false;
    if (this.sessions.has(points)) return true;
    let session: ort.InferenceSession | null = null;
    try {
      session = await ort.InferenceSession.create(this.model, {
        executionProviders: [{ name: 'webgpu', device: this.device } as unknown as ort.InferenceSession.ExecutionProviderConfig],
        enableGraphCapture: true,
        freeDimensionOverrides: { num_points: points },
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      const inputs: Record<string, Slot> = {};
      for (const [name, t] of Object.entries(sample)) inputs[name] = slot(this.device, [...t.dims]);
      const outputs: Record<string, Slot> = {};
      for (const [name, dims] of Object.entries(OUTPUT_DIMS)) outputs[name] = slot(this.device, dims);
      const captured = { session, inputs, outputs };
      await this.replay(captured, sample); // the first run records the commands
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
      return false;
    }
  }

  private async replay(c: Captured, prompts: Record<string, ort.Tensor>): Promise<void> {
    for (const [name, t] of Object.entries(prompts)) {
      this.device.queue.writeBuffer(c.inputs[name].buffer, 0, t.data as Float32Array<ArrayBuffer>);
    }
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of FEATURE_NAMES) feeds[name] = this.features[name].tensor;
    for (const [name, s] of Object.entries(c.inputs)) feeds[name] = s.tensor;
    const fetches: Record<string, ort.Tensor> = {};
    for (const [name, s] of Object.entries(c.outputs)) fetches[name] = s.tensor;
    await c.session.run(feeds, fetches);
  }

  /** One click: prompts written, the recording replayed, the wanted masks and scores (the
   * family's output names) read back. */
  async run(prompts: Record<string, ort.Tensor>, [maskName, scoreName]: string[]): Promise<{ lowRes: Float32Array; scores: Float32Array }> {
    const points = prompts.point_coords.dims[1];
    const c = this.sessions.get(points);
    if (!c) throw new Error(`no captured decoder for ${points} points`);
    this.sessions.delete(points); // most recently used last
    this.sessions.set(points, c);
    await this.replay(c, prompts);
    const maskFloats = floats(OUTPUT_DIMS[maskName]);
    const scoreFloats = floats(OUTPUT_DIMS[scoreName]);
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(c.outputs[maskName].buffer, 0, this.staging, 0, maskFloats * FLOAT);
    encoder.copyBufferToBuffer(c.outputs[scoreName].buffer, 0, this.staging, SCORES_AT, scoreFloats * FLOAT);
    this.device.queue.submit([encoder.finish()]);
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
    for (const s of [...Object.values(c.inputs), ...Object.values(c.outputs)]) s.buffer.destroy();
  }

  release(): void {
    for (const c of this.sessions.values()) this.dispose(c);
    this.sessions.clear();
    for (const s of Object.values(this.features)) s.buffer.destroy();
    this.staging.destroy();
  }
}
