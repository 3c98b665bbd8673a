// The decoder behind one interface: a plain onnxruntime-web session, or graph-captured replays of
// it (WebGPU), chosen per request by graph role and prompt shape. A shape is recorded after its
// first plain run (the next request of that shape replays it); a failed replay turns capture off
// for the model and the plain session answers from then on.

import type { Backend } from './backend';
import { CapturedDecoders, capturedBuffers } from './capturedDecoder';
import type { Family } from './families';
import type { InferenceSession, Tensor } from './runtime';

export interface DecoderOutput {
  /** Low-res logits of every candidate, clamped as the family's predictor clamps them. */
  lowRes: Float32Array;
  scores: Float32Array;
  /** Logits at the image's resolution where the graph makes them itself (SAM1), else null. */
  fullRes: Float32Array | null;
  /** Whether a recorded run was replayed. */
  captured: boolean;
}

/** Sees a replay's outputs where they lie on the GPU: the masks (numMasks x 256 x 256) and scores. */
export type OnGpuOutputs = (masks: GPUBuffer, scores: GPUBuffer, numMasks: number) => void;

/** Runs work after the request being answered (the worker's queue). */
export type Schedule = (job: () => Promise<void>) => void;

interface RoleDecoders {
  plain: InferenceSession;
  /** The graph's bytes, kept while captured sessions may still be made from them. */
  bytes: Uint8Array | null;
  captured: CapturedDecoders | null;
}

export class Decoders {
  private readonly roles = new Map<string, RoleDecoders>();
  private features: Record<string, Tensor> | null = null;
  private failNext = false;

  constructor(
    private readonly backend: Backend,
    private readonly family: Family,
    private readonly schedule: Schedule,
  ) {}

  /** Adds the decoder of `role`; `bytes` are kept for graph capture where the backend wants it. */
  add(role: string, plain: InferenceSession, bytes: Uint8Array): void {
    this.roles.set(role, { plain, bytes: this.backend.wantsCapture(this.family) ? bytes : null, captured: null });
  }

  /** The image features every decoder reads (copied once into the captured sessions' buffers). */
  setFeatures(features: Record<string, Tensor>): void {
    this.features = features;
    for (const r of this.roles.values()) {
      if (!r.bytes || !this.backend.device) continue;
      r.captured ??= new CapturedDecoders(
        this.backend.device,
        r.bytes,
        Object.fromEntries(Object.entries(features).map(([k, t]) => [k, t.dims])),
      );
      if (this.failNext) {
        r.captured.failNextRecording();
        this.failNext = false;
      }
      r.captured.setFeatures(features);
    }
  }

  /** Why graph capture is off ('' while it works or was never wanted). */
  captureFailure(role = 'decoder'): string {
    return this.roles.get(role)?.captured?.failure ?? '';
  }

  /** GPU buffers the captured decoders hold (leak checks). */
  get gpuBuffers(): number {
    return capturedBuffers();
  }

  /** Testing: the next recording fails after its buffers were made. */
  failNextRecording(): void {
    let pending = true;
    for (const r of this.roles.values()) {
      if (r.captured) {
        r.captured.failNextRecording();
        pending = false;
      }
    }
    this.failNext = pending;
  }

  /** `onGpu`: given the outputs on the GPU where a replay leaves them there (see CapturedDecoders.run). */
  async run(role: string, prompts: Record<string, Tensor>, wanted: string[], onGpu?: OnGpuOutputs): Promise<DecoderOutput> {
    const r = this.roles.get(role);
    if (!r || !this.features) throw new Error(`no ${role} graph or no image features`);
    const clamp = this.family.clamp ?? Number.POSITIVE_INFINITY;
    const clamped = (v: number) => Math.max(-clamp, Math.min(clamp, v));
    const points = prompts.point_coords?.dims[1] ?? 0;
    const captured = r.captured;
    if (captured?.has(points)) {
      try {
        const { lowRes, scores } = await captured.run(prompts, wanted, onGpu);
        for (let i = 0; i < lowRes.length; i++) lowRes[i] = clamped(lowRes[i]);
        return { lowRes, scores, fullRes: null, captured: true };
      } catch (e) {
        this.backend.check();
        captured.disable((e as Error).message); // the plain session answers from now on
      }
    }
    if (captured && !captured.failure) {
      // Record this shape after the current request, so the next one like it replays.
      this.schedule(async () => {
        if (this.roles.get(role)?.captured !== captured || this.backend.lost) return; // a new model came in meanwhile
        await captured.prepare(points, prompts);
      });
    }
    const out = await r.plain.run({ ...this.features, ...prompts }, wanted);
    // CPU outputs' data are copies in JavaScript memory, ours to keep (dispose only drops the
    // tensors' references): no second copy, and a clamp pass only where the family clamps.
    const data = (name: string) => out[name].data as Float32Array;
    const lowRes = data(wanted[0]);
    if (Number.isFinite(clamp)) for (let i = 0; i < lowRes.length; i++) lowRes[i] = clamped(lowRes[i]);
    const result = { lowRes, scores: data(wanted[1]), fullRes: wanted[2] ? data(wanted[2]) : null, captured: false };
    for (const t of Object.values(out)) t.dispose();
    return result;
  }

  release(): void {
    for (const r of this.roles.values()) {
      r.captured?.release();
      void r.plain.release();
    }
    this.roles.clear();
    this.features = null;
  }
}
