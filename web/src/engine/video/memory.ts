// The memory bank of the video tracker, mirroring src/sam2web/predict/memory.py step for step
// (official SAM2Base._prepare_memory_conditioned_features): which frames' memories and object
// pointers a frame attends to, their temporal encodings, and bf16 storage.
//
// Memory is bounded: conditioning frames (the ones the user prompted) are kept; a tracked frame's
// record is kept only while it is within reach of the frame being tracked (16 frames), then
// dropped (Python spills it to disk instead; the browser keeps the results as RLE on the page).
// The one consequence: a correction click on a tracked frame far behind the last one tracked
// starts from no previous logits (Python would read them back from disk).

import type { GpuMemory } from './gpuMemories';

export const NO_OBJ_SCORE = -1024;

/** float32 -> bfloat16 bits, round to nearest even (NaN stays NaN): torch's `.to(bfloat16)`. */
export function toBf16(x: Float32Array): Uint16Array {
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = bits[i];
    if (Number.isNaN(x[i])) out[i] = 0x7fc0;
    else out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/** bfloat16 bits -> float32 (exact), written into `out` at `offset`. */
export function fromBf16(bits: Uint16Array, out: Float32Array, offset = 0): void {
  const u = new Uint32Array(out.buffer, out.byteOffset + offset * 4, bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
}

/** sam2_utils.get_1d_sine_pe in float32: positions -> [N, dim] (sin half, cos half). */
export function sinePe(pos: Float32Array, dim: number, temperature = 10000): Float32Array {
  const f = Math.fround;
  const half = dim / 2;
  const dimT = new Float32Array(half);
  for (let i = 0; i < half; i++) dimT[i] = f(f(temperature) ** f(f(2 * Math.floor(i / 2)) / f(half)));
  const out = new Float32Array(pos.length * dim);
  for (let n = 0; n < pos.length; n++) {
    for (let i = 0; i < half; i++) {
      const e = f(pos[n] / dimT[i]);
      out[n * dim + i] = f(Math.sin(e));
      out[n * dim + half + i] = f(Math.cos(e));
    }
  }
  return out;
}

/** A frame's spatial memory [64*64*64]: bf16 bits in worker memory (WASM), or bf16 values in
 * a GPU buffer (WebGPU, gpuMemories.ts). */
export type Maskmem = Uint16Array | GpuMemory;

/** One object's output on one frame (official `compact_current_out`): maskmem (null until
 * encoded), predMasks low-res logits [256*256], objPtr [hidden_dim], objectScore. */
export interface FrameRecord {
  predMasks: Float32Array;
  objPtr: Float32Array;
  objectScore: number;
  maskmem: Maskmem | null;
}

export function recordBytes(r: FrameRecord): number {
  return r.predMasks.byteLength + r.objPtr.byteLength + (r.maskmem?.byteLength ?? 0);
}

/** Frame records that let go of what a record holds (its GPU memory) when it is replaced,
 * deleted or cleared. */
export class RecordMap extends Map<number, FrameRecord> {
  constructor(
    entries: Iterable<[number, FrameRecord]> = [],
    readonly onDrop: (r: FrameRecord) => void = () => {},
  ) {
    super();
    for (const [k, v] of entries) super.set(k, v);
  }

  override set(frameIdx: number, record: FrameRecord): this {
    const old = super.get(frameIdx);
    if (old && old !== record) this.onDrop(old);
    return super.set(frameIdx, record);
  }

  override delete(frameIdx: number): boolean {
    const old = super.get(frameIdx);
    if (old) this.onDrop(old);
    return super.delete(frameIdx);
  }

  /** Removes a record without dropping what it holds (it moves elsewhere). */
  take(frameIdx: number): FrameRecord | undefined {
    const r = super.get(frameIdx);
    super.delete(frameIdx);
    return r;
  }

  override clear(): void {
    for (const r of super.values()) this.onDrop(r);
    super.clear();
  }

  get bytes(): number {
    let total = 0;
    for (const r of this.values()) total += recordBytes(r);
    return total;
  }
}

/** One object's tracked (non-conditioning) frame records; `trim` drops those out of reach. */
export class NonCondFrames extends RecordMap {
  /** Drop every record outside the `reach` frames behind `frameIdx` in the tracking direction:
   * the only ones the next frames read. */
  trim(frameIdx: number, reach: number, reverse: boolean): void {
    const [lo, hi] = reverse ? [frameIdx, frameIdx + reach] : [frameIdx - reach, frameIdx];
    for (const t of [...this.keys()]) if (t < lo || t > hi) this.delete(t);
  }
}

/** bf16 bits of several frames -> their float32 values one after another (the CPU feed). */
export function stackBf16(memories: Uint16Array[]): Float32Array {
  const size = memories.length ? memories[0].length : 0;
  const out = new Float32Array(memories.length * size);
  memories.forEach((m, i) => {
    fromBf16(m, out, i * size);
  });
  return out;
}

/** The official tracker's settings (the bundle's video_constants.json `config`). */
export interface TrackingConfig {
  num_maskmem: number;
  max_obj_ptrs_in_encoder: number;
  max_cond_frames_in_attn: number;
  memory_temporal_stride_for_eval: number;
  hidden_dim: number;
  mem_dim: number;
  image_size: number;
  use_obj_ptrs_in_encoder: boolean;
  add_tpos_enc_to_obj_ptrs: boolean;
  proj_tpos_enc_in_obj_ptrs: boolean;
  use_signed_tpos_enc_to_obj_ptrs: boolean;
  only_obj_ptrs_in_the_past_for_eval: boolean;
  pred_obj_scores: boolean;
  fixed_no_obj_ptr: boolean;
  soft_no_obj_ptr: boolean;
  multimask_output_in_sam: boolean;
  multimask_output_for_tracking: boolean;
  use_multimask_token_for_obj_ptr: boolean;
  multimask_min_pt_num: number;
  multimask_max_pt_num: number;
  use_mask_input_as_output_without_sam: boolean;
  binarize_mask_from_pts_for_mem_enc: boolean;
}

export const DEFAULT_CONFIG: TrackingConfig = {
  num_maskmem: 7,
  max_obj_ptrs_in_encoder: 16,
  max_cond_frames_in_attn: -1,
  memory_temporal_stride_for_eval: 1,
  hidden_dim: 256,
  mem_dim: 64,
  image_size: 1024,
  use_obj_ptrs_in_encoder: true,
  add_tpos_enc_to_obj_ptrs: true,
  proj_tpos_enc_in_obj_ptrs: true,
  use_signed_tpos_enc_to_obj_ptrs: true,
  only_obj_ptrs_in_the_past_for_eval: true,
  pred_obj_scores: true,
  fixed_no_obj_ptr: true,
  soft_no_obj_ptr: false,
  multimask_output_in_sam: true,
  multimask_output_for_tracking: true,
  use_multimask_token_for_obj_ptr: true,
  multimask_min_pt_num: 0,
  multimask_max_pt_num: 1,
  use_mask_input_as_output_without_sam: true,
  binarize_mask_from_pts_for_mem_enc: true,
};

export function trackingConfig(raw: Record<string, unknown>): TrackingConfig {
  const cfg = { ...DEFAULT_CONFIG } as Record<string, unknown>;
  for (const k of Object.keys(DEFAULT_CONFIG)) if (k in raw) cfg[k] = raw[k];
  return cfg as unknown as TrackingConfig;
}

/** How many frames back a tracked frame still reads memories or pointers from. */
export function reach(cfg: TrackingConfig): number {
  return Math.max(cfg.num_maskmem - 1, cfg.max_obj_ptrs_in_encoder - 1) * Math.max(1, cfg.memory_temporal_stride_for_eval);
}

/** sam2_utils.select_closest_cond_frames -> [selected, unselected]. */
export function selectClosestCondFrames(
  frameIdx: number,
  cond: Map<number, FrameRecord>,
  maxCondFrameNum: number,
): [Map<number, FrameRecord>, Map<number, FrameRecord>] {
  if (maxCondFrameNum === -1 || cond.size <= maxCondFrameNum) return [cond, new Map()];
  const selected = new Map<number, FrameRecord>();
  const keys = [...cond.keys()];
  const before = keys.filter((t) => t < frameIdx);
  if (before.length) {
    const t = Math.max(...before);
    selected.set(t, cond.get(t)!);
  }
  const after = keys.filter((t) => t >= frameIdx);
  if (after.length) {
    const t = Math.min(...after);
    selected.set(t, cond.get(t)!);
  }
  const remain = maxCondFrameNum - selected.size;
  const rest = keys.filter((t) => !selected.has(t)).sort((a, b) => Math.abs(a - frameIdx) - Math.abs(b - frameIdx));
  for (const t of rest.slice(0, remain)) selected.set(t, cond.get(t)!);
  return [selected, new Map([...cond].filter(([t]) => !selected.has(t)))];
}

/** The memory attention graph's memory inputs for one frame of one object. */
export interface MemoryInputs {
  memories: Maskmem[]; // Nm of them, [64, 64, 64] each
  maskmemTposIndex: BigInt64Array; // [Nm]
  numMemories: number;
  objPtrs: Float32Array; // [Np, hidden_dim]
  objPtrTpos: Float32Array; // [Np, tposDim]
  numPointers: number;
  tposDim: number;
  frames: number[];
  pointerFrames: number[];
}

/** What a non-initial-conditioning frame attends to (official Step 1). */
export function gatherMemories(
  cfg: TrackingConfig,
  frameIdx: number,
  cond: Map<number, FrameRecord>,
  nonCond: Map<number, FrameRecord>,
  numFrames: number,
  reverse: boolean,
): MemoryInputs {
  if (!cond.size) throw new Error('an object with no conditioning frame has no memory to track from');
  const [selected, unselected] = selectClosestCondFrames(frameIdx, cond, cfg.max_cond_frames_in_attn);
  const tPosAndPrevs: [number, FrameRecord | undefined, number][] = [...selected].map(([t, out]) => [0, out, t]);
  const stride = cfg.memory_temporal_stride_for_eval;
  for (let tPos = 1; tPos < cfg.num_maskmem; tPos++) {
    const tRel = cfg.num_maskmem - tPos;
    let prev: number;
    if (tRel === 1) prev = reverse ? frameIdx + tRel : frameIdx - tRel;
    else if (!reverse) prev = Math.floor((frameIdx - 2) / stride) * stride - (tRel - 2) * stride;
    else prev = -Math.floor(-(frameIdx + 2) / stride) * stride + (tRel - 2) * stride;
    tPosAndPrevs.push([tPos, nonCond.get(prev) ?? unselected.get(prev), prev]);
  }
  const mems: Maskmem[] = [];
  const tpos: number[] = [];
  const frames: number[] = [];
  for (const [tPos, prev, t] of tPosAndPrevs) {
    if (!prev?.maskmem) continue;
    mems.push(prev.maskmem);
    tpos.push(cfg.num_maskmem - tPos - 1);
    frames.push(t);
  }

  const posAndPtrs: [number, Float32Array][] = [];
  const pointerFrames: number[] = [];
  const maxPtrs = Math.min(numFrames, cfg.max_obj_ptrs_in_encoder);
  if (cfg.use_obj_ptrs_in_encoder) {
    const ptrCond = cfg.only_obj_ptrs_in_the_past_for_eval
      ? [...selected].filter(([t]) => (reverse ? t >= frameIdx : t <= frameIdx))
      : [...selected];
    const sign = reverse ? -1 : 1;
    for (const [t, out] of ptrCond) {
      const dist = cfg.use_signed_tpos_enc_to_obj_ptrs ? (frameIdx - t) * sign : Math.abs(frameIdx - t);
      posAndPtrs.push([dist, out.objPtr]);
      pointerFrames.push(t);
    }
    for (let tDiff = 1; tDiff < maxPtrs; tDiff++) {
      const t = reverse ? frameIdx + tDiff : frameIdx - tDiff;
      if (t < 0 || t >= numFrames) break;
      const out = nonCond.get(t) ?? unselected.get(t);
      if (out) {
        posAndPtrs.push([tDiff, out.objPtr]);
        pointerFrames.push(t);
      }
    }
  }
  const c = cfg.hidden_dim;
  const tposDim = cfg.proj_tpos_enc_in_obj_ptrs ? c : cfg.mem_dim;
  const objPtrs = new Float32Array(posAndPtrs.length * c);
  posAndPtrs.forEach(([, p], i) => {
    objPtrs.set(p, i * c);
  });
  let objPtrTpos: Float32Array = new Float32Array(posAndPtrs.length * tposDim);
  if (posAndPtrs.length && cfg.add_tpos_enc_to_obj_ptrs) {
    const tDiffMax = Math.fround(maxPtrs - 1);
    const pos = Float32Array.from(posAndPtrs, ([p]) => Math.fround(p / tDiffMax));
    objPtrTpos = sinePe(pos, tposDim);
  }
  return {
    memories: mems,
    maskmemTposIndex: BigInt64Array.from(tpos, (t) => BigInt(t)),
    numMemories: mems.length,
    objPtrs,
    objPtrTpos,
    numPointers: posAndPtrs.length,
    tposDim,
    frames,
    pointerFrames,
  };
}
