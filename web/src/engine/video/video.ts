// VideoPredictor: SAM2 video tracking in the worker, mirroring src/sam2web/predict/video.py
// (official SAM2VideoPredictor) step for step and name for name: a prompt on a frame the object
// has not been tracked on makes it a conditioning frame (decoded from the frame's own features);
// a prompt on a tracked frame corrects it (memory-conditioned, stored as a tracked frame, decoded
// with the previous logits as mask input); propagation first encodes the prompted frames'
// memories (binarized masks), then tracks every frame that is not a conditioning frame with
// memory attention over the bank (memory.ts), multimask output with the best predicted IoU,
// occlusion when the object score is <= 0, memories stored as bf16. Objects are tracked one at a
// time, each with its own bank, sharing the frame's image features.
//
// Not here (Python has them): add_new_mask (mask prompts), spilling far tracked frames to disk.

import type { GpuPreprocess } from '../gpuPreprocess';
import type { Tensor } from '../runtime';
import { f32, runtime } from '../runtime';
import { type Features, FrameEncoder, type PreprocessingCheck } from './frameEncoder';
import { type GpuMemories, type GpuMemory, isGpuMemory } from './gpuMemories';
import { fillHolesInMaskScores } from './maskHoles';
import {
  type FrameRecord,
  gatherMemories,
  type Maskmem,
  NO_OBJ_SCORE,
  NonCondFrames,
  RecordMap,
  reach,
  stackBf16,
  type TrackingConfig,
  toBf16,
  trackingConfig,
} from './memory';
import { preprocessFrame } from './preprocessFrame';
import { type FrameOutput, type FrameSource, PromptError, type PromptInput, type VideoSessions } from './types';

export const DEFAULT_FILL_HOLE_AREA = 8;
const LOW = 256;

/** One object's prompts, outputs and memory bank (official `*_per_obj[obj_idx]`). */
class ObjectTrack {
  pointInputs = new Map<number, { coords: Float32Array; labels: Float32Array }>();
  cond: RecordMap;
  tempCond: RecordMap;
  tempNonCond: RecordMap;
  nonCond: NonCondFrames;
  framesTracked = new Map<number, boolean>(); // frame -> reverse

  /** drop: lets go of a record's GPU memory when the bank no longer holds it. */
  constructor(drop: (r: FrameRecord) => void) {
    this.cond = new RecordMap([], drop);
    this.tempCond = new RecordMap([], drop);
    this.tempNonCond = new RecordMap([], drop);
    this.nonCond = new NonCondFrames([], drop);
  }

  clear(): void {
    for (const d of [this.cond, this.tempCond, this.tempNonCond, this.nonCond]) d.clear();
  }

  temp(isCond: boolean): RecordMap {
    return isCond ? this.tempCond : this.tempNonCond;
  }

  /** The most recent output on a frame (official lookup order). */
  latest(frameIdx: number, isCond: boolean): FrameRecord | undefined {
    return this.temp(isCond).get(frameIdx) ?? this.cond.get(frameIdx) ?? this.nonCond.get(frameIdx);
  }
}

/** A tracking session on one video (official `inference_state`). */
export class VideoState {
  readonly objects = new Map<number, ObjectTrack>();
  readonly features = new Map<number, Features>();
  readonly numFrames: number;
  readonly width: number;
  readonly height: number;

  constructor(
    readonly video: FrameSource,
    private readonly drop: (r: FrameRecord) => void = () => {},
  ) {
    if (!(video.numFrames > 0)) throw new PromptError('the video has no frames');
    this.numFrames = video.numFrames;
    this.width = video.width;
    this.height = video.height;
  }

  get objIds(): number[] {
    return [...this.objects.keys()];
  }

  checkFrame(frameIdx: number): number {
    if (!Number.isInteger(frameIdx)) throw new PromptError(`frame index must be an integer, got ${frameIdx}`);
    if (frameIdx < 0 || frameIdx >= this.numFrames) {
      throw new PromptError(`frame ${frameIdx} is out of range: the video has ${this.numFrames} frames (0 to ${this.numFrames - 1})`);
    }
    return frameIdx;
  }

  object(objId: number, create = false): ObjectTrack {
    if (!Number.isInteger(objId)) throw new PromptError(`object ids are integers, got ${objId}`);
    let track = this.objects.get(objId);
    if (!track) {
      if (!create) throw new PromptError(`no object with id ${objId} (objects: ${this.objIds.join(', ') || 'none yet'})`);
      track = new ObjectTrack(this.drop);
      this.objects.set(objId, track);
    }
    return track;
  }

  /** Bytes of memory-bank records held (bounded whatever the video's length). */
  bankBytes(): number {
    let total = 0;
    for (const obj of this.objects.values()) {
      for (const d of [obj.cond, obj.tempCond, obj.tempNonCond, obj.nonCond]) total += d.bytes;
    }
    return total;
  }

  /** Removes every object (their memories let go). */
  clearObjects(): void {
    for (const obj of this.objects.values()) obj.clear();
    this.objects.clear();
  }

  dispose(): void {
    this.clearObjects();
    for (const feats of this.features.values()) for (const t of Object.values(feats)) t.dispose();
    this.features.clear();
  }
}

/** Checks points and a box, and lays them out as official: box corners (labels 2, 3) first, then
 * the points; coordinates in pixels. */
export function promptArrays(p: PromptInput, width: number, height: number): { xy: number[]; labels: number[] } {
  const xy: number[] = [],
    labels: number[] = [];
  const check = (x: number, y: number, what: string) => {
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new PromptError(`${what} coordinates contain NaN or infinite values`);
    if (x < 0 || x > width || y < 0 || y > height) throw new PromptError(`${what} (${x}, ${y}) lies outside the ${width}x${height} frame`);
  };
  if (p.box) {
    const [x0, y0, x1, y1] = p.box;
    check(x0, y0, 'box corner');
    check(x1, y1, 'box corner');
    if (x1 < x0 || y1 < y0) throw new PromptError('a box must be given as x0,y0,x1,y1 with x0<=x1 and y0<=y1');
    xy.push(x0, y0, x1, y1);
    labels.push(2, 3);
  }
  for (const [x, y, label] of p.points ?? []) {
    check(x, y, 'point');
    if (label !== 0 && label !== 1) throw new PromptError('point labels must be 1 (positive) or 0 (negative)');
    xy.push(x, y);
    labels.push(label);
  }
  if (!labels.length) throw new PromptError('give points (with labels) or a box');
  return { xy, labels };
}

export class VideoPredictor {
  readonly method = 'SAM2 memory';
  readonly hasMemory = true;
  readonly cfg: TrackingConfig;
  private readonly noObjPtr: Float32Array | null;
  private readonly keepFrames: number;
  private readonly frames: FrameEncoder;

  constructor(
    private readonly sessions: VideoSessions,
    constants: { config: Record<string, unknown>; no_obj_ptr?: number[] | null },
    private readonly imageSize: number,
    mean: number[],
    std: number[],
    readonly maskThreshold = 0,
    /** WebGPU: the bank's memories stay in GPU buffers (null: in worker memory). */
    private readonly gpu: GpuMemories | null = null,
    readonly fillHoleArea = DEFAULT_FILL_HOLE_AREA,
    /** WebGPU: frames are resized and normalised on the GPU (null: in JavaScript). */
    gpuPreprocess: GpuPreprocess | null = null,
  ) {
    this.cfg = trackingConfig(constants.config);
    this.noObjPtr = constants.no_obj_ptr ? Float32Array.from(constants.no_obj_ptr.flat(4) as number[]) : null;
    this.keepFrames = reach(this.cfg);
    const size = imageSize;
    this.frames = new FrameEncoder(
      sessions,
      (rgba, w, h) => ({ image: f32(preprocessFrame(rgba, w, h, size, mean, std), [1, 3, size, size]) }),
      (outputs) => outputs,
      gpuPreprocess ? { preprocess: gpuPreprocess, input: 'image' } : null,
    );
  }

  initState(video: FrameSource): VideoState {
    return new VideoState(video, (r) => this.release(r.maskmem));
  }

  resetState(state: VideoState): void {
    state.clearObjects();
  }

  private release(maskmem: Maskmem | null): void {
    if (maskmem && isGpuMemory(maskmem)) this.gpu?.release(maskmem);
  }

  // -- features ------------------------------------------------------------------------------

  private features(state: VideoState, frameIdx: number): Promise<Features> {
    return this.frames.features(state.features, state.video, frameIdx);
  }

  /** The GPU preprocessing of a frame against the CPU one (tests, bug reports). */
  checkPreprocessing(state: VideoState, frameIdx: number): Promise<PreprocessingCheck> {
    return this.frames.checkPreprocessing(state.video, state.checkFrame(frameIdx));
  }

  // -- one frame of one object (official _run_single_frame_inference / track_step) -----------

  private useMultimask(isInitCondFrame: boolean, numPts: number): boolean {
    const cfg = this.cfg;
    return (
      cfg.multimask_output_in_sam &&
      (isInitCondFrame || cfg.multimask_output_for_tracking) &&
      cfg.multimask_min_pt_num <= numPts &&
      numPts <= cfg.multimask_max_pt_num
    );
  }

  /** official `_forward_sam_heads` -> low-res logits (256*256), obj_ptr, object score. */
  private async decode(
    embed: Tensor,
    feats: Features,
    pointInputs: { coords: Float32Array; labels: Float32Array } | null,
    maskInput: Float32Array | null,
    multimask: boolean,
  ): Promise<{ low: Float32Array; ptr: Float32Array; score: number }> {
    const coords = pointInputs?.coords ?? new Float32Array(2);
    const labels = pointInputs?.labels ?? Float32Array.of(-1);
    const n = labels.length;
    const out = await this.sessions.run('video_decoder', {
      image_embed: embed,
      high_res_feats_0: feats.high_res_feats_0,
      high_res_feats_1: feats.high_res_feats_1,
      point_coords: f32(coords, [1, n, 2]),
      point_labels: f32(labels, [1, n]),
      mask_input: f32(maskInput ?? new Float32Array(LOW * LOW), [1, 1, LOW, LOW]),
      has_mask_input: f32(Float32Array.of(maskInput ? 1 : 0), [1]),
    });
    try {
      const score = (out.object_score_logits.data as Float32Array)[0];
      const ptrs = out.obj_ptr.data as Float32Array; // [1, tokens, hidden]
      const c = this.cfg.hidden_dim;
      let low: Float32Array, ptr: Float32Array;
      if (multimask) {
        const ious = out.iou_predictions.data as Float32Array;
        let best = 0;
        for (let i = 1; i < ious.length; i++) if (ious[i] > ious[best]) best = i;
        low = (out.masks.data as Float32Array).slice(best * LOW * LOW, (best + 1) * LOW * LOW);
        const token = this.cfg.use_multimask_token_for_obj_ptr ? 1 + best : 0;
        ptr = ptrs.slice(token * c, (token + 1) * c);
      } else {
        low = (out.single_mask.data as Float32Array).slice(0, LOW * LOW);
        ptr = ptrs.slice(0, c);
      }
      if (this.cfg.pred_obj_scores) {
        const appearing = score > 0;
        if (!appearing) low.fill(NO_OBJ_SCORE);
        ptr = this.gatePointer(ptr, score, appearing);
      }
      return { low, ptr, score };
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /** official: obj_ptr = lambda * obj_ptr + (1 - lambda) * no_obj_ptr (fixed_no_obj_ptr). */
  private gatePointer(ptr: Float32Array, score: number, appearing: boolean): Float32Array {
    const f = Math.fround;
    const lam = this.cfg.soft_no_obj_ptr ? f(1 / (1 + Math.exp(-score))) : appearing ? 1 : 0;
    const noObj = this.noObjPtr ?? new Float32Array(ptr.length);
    const out = new Float32Array(ptr.length);
    for (let i = 0; i < ptr.length; i++) {
      const p = this.cfg.fixed_no_obj_ptr ? f(lam * ptr[i]) : ptr[i];
      out[i] = f(p + f(f(1 - lam) * noObj[i]));
    }
    return out;
  }

  private async encodeMemory(feats: Features, low: Float32Array, score: number, binarize: boolean): Promise<Maskmem> {
    const out = await this.sessions.run(
      'memory_encoder',
      {
        image_embed: feats.image_embed,
        mask_logits: f32(low, [1, 1, LOW, LOW]),
        object_score_logits: f32(Float32Array.of(score), [1, 1]),
        binarize: f32(Float32Array.of(binarize ? 1 : 0), [1]),
      },
      ['maskmem_features'],
    );
    if (this.gpu) return this.gpu.keep(out.maskmem_features);
    const bits = toBf16(out.maskmem_features.data as Float32Array);
    out.maskmem_features.dispose();
    return bits;
  }

  private async trackFrame(
    state: VideoState,
    obj: ObjectTrack,
    frameIdx: number,
    isInitCondFrame: boolean,
    pointInputs: { coords: Float32Array; labels: Float32Array } | null,
    reverse: boolean,
    runMemEncoder: boolean,
    prevSamMaskLogits: Float32Array | null = null,
  ): Promise<FrameRecord> {
    const feats = await this.features(state, frameIdx);
    let embed = feats.image_embed; // + no_mem_embed, as the encoder gives it
    let fused: Tensor | null = null;
    if (!isInitCondFrame) {
      const m = gatherMemories(this.cfg, frameIdx, obj.cond, obj.nonCond, state.numFrames, reverse);
      const floats = m.memories.length ? m.memories[0].byteLength / (isGpuMemory(m.memories[0]) ? 4 : 2) : 0;
      const side = Math.round(Math.sqrt(floats / this.cfg.mem_dim));
      const dims = [m.numMemories, this.cfg.mem_dim, side, side];
      const stacked = this.gpu
        ? this.gpu.stack(m.memories as GpuMemory[], dims)
        : { tensor: f32(stackBf16(m.memories as Uint16Array[]), dims), release: () => {} };
      try {
        const out = await this.sessions.run(
          'memory_attention',
          {
            image_embed: feats.image_embed,
            maskmem_features: stacked.tensor,
            maskmem_tpos_index: new (runtime().Tensor)('int64', m.maskmemTposIndex, [m.numMemories]),
            obj_ptrs: f32(m.objPtrs, [m.numPointers, this.cfg.hidden_dim]),
            obj_ptr_tpos: f32(m.objPtrTpos, [m.numPointers, m.tposDim]),
          },
          ['pix_feat_with_mem'],
        );
        fused = out.pix_feat_with_mem;
      } finally {
        stacked.release();
      }
      embed = fused;
    }
    const numPts = pointInputs ? pointInputs.labels.length : 0;
    const multimask = this.useMultimask(isInitCondFrame, numPts);
    let decoded: { low: Float32Array; ptr: Float32Array; score: number };
    try {
      decoded = await this.decode(embed, feats, pointInputs, prevSamMaskLogits, multimask);
    } finally {
      fused?.dispose();
    }
    const record: FrameRecord = { predMasks: decoded.low, objPtr: decoded.ptr, objectScore: decoded.score, maskmem: null };
    if (runMemEncoder && this.cfg.num_maskmem > 0) {
      record.maskmem = await this.encodeMemory(feats, decoded.low, decoded.score, pointInputs !== null);
    }
    if (this.fillHoleArea > 0) record.predMasks = fillHolesInMaskScores(decoded.low, LOW, LOW, this.fillHoleArea);
    return record;
  }

  // -- prompts -------------------------------------------------------------------------------

  /** Clicks (and/or a box) in pixels for one object on one frame -> every object's low-res
   * logits on that frame. */
  async addNewPointsOrBox(state: VideoState, frameIdx: number, objId: number, prompt: PromptInput): Promise<FrameOutput> {
    state.checkFrame(frameIdx);
    const clearOld = prompt.clearOldPoints ?? true;
    if (prompt.box && !clearOld) throw new PromptError('a box cannot be added to earlier points (it must come first)');
    const { xy, labels } = promptArrays(prompt, state.width, state.height);
    const f = Math.fround;
    const size = f(this.imageSize);
    let coords = Float32Array.from(xy, (v, i) => f(f(v / f(i % 2 ? state.height : state.width)) * size));
    let labs = Float32Array.from(labels);
    const obj = state.object(objId, true);
    const old = obj.pointInputs.get(frameIdx);
    if (!clearOld && old) {
      coords = Float32Array.from([...old.coords, ...coords]);
      labs = Float32Array.from([...old.labels, ...labs]);
    }
    const pointInputs = { coords, labels: labs };
    obj.pointInputs.set(frameIdx, pointInputs);
    const isInitCondFrame = !obj.framesTracked.has(frameIdx);
    const reverse = isInitCondFrame ? false : (obj.framesTracked.get(frameIdx) as boolean);
    const isCond = isInitCondFrame;
    const prev = obj.latest(frameIdx, isCond);
    const prevLogits = prev ? prev.predMasks.map((v) => Math.min(Math.max(v, -32), 32)) : null;
    const out = await this.trackFrame(state, obj, frameIdx, isInitCondFrame, pointInputs, reverse, false, prevLogits);
    obj.temp(isCond).set(frameIdx, out);
    return this.frameOutput(state, frameIdx, isCond);
  }

  /** official `_consolidate_temp_output_across_obj`: every object's latest low-res logits on the
   * frame (null where it has none). */
  private frameOutput(state: VideoState, frameIdx: number, isCond: boolean): FrameOutput {
    const objIds = state.objIds;
    return { frameIdx, objIds, lowRes: objIds.map((id) => state.objects.get(id)!.latest(frameIdx, isCond)?.predMasks ?? null) };
  }

  // -- tracking ------------------------------------------------------------------------------

  /** official `propagate_in_video_preflight`: encode the prompted frames' memories. */
  async preflight(state: VideoState): Promise<void> {
    if (!state.objects.size) throw new PromptError('no object has prompts yet: add points or a box first');
    for (const [objId, obj] of state.objects) {
      for (const isCond of [false, true]) {
        const temp = obj.temp(isCond);
        for (const [frameIdx, out] of [...temp]) {
          if (!out.maskmem) {
            const feats = await this.features(state, frameIdx);
            out.maskmem = await this.encodeMemory(feats, out.predMasks, out.objectScore, true);
          }
          temp.take(frameIdx);
          (isCond ? obj.cond : obj.nonCond).set(frameIdx, out);
        }
      }
      if (!obj.cond.size) {
        throw new PromptError(`object ${objId} has no prompts on any frame it was not tracked on; add points or a box for it first`);
      }
      for (const frameIdx of obj.cond.keys()) obj.nonCond.delete(frameIdx);
    }
  }

  /** The frames `propagate_in_video` visits, in order (after its preflight). */
  async propagationOrder(
    state: VideoState,
    startFrameIdx: number | null,
    maxFrameNumToTrack: number | null,
    reverse: boolean,
  ): Promise<number[]> {
    await this.preflight(state);
    return frameOrder(
      state,
      startFrameIdx ?? Math.min(...[...state.objects.values()].flatMap((o) => [...o.cond.keys()])),
      maxFrameNumToTrack,
      reverse,
    );
  }

  /** One step of official `propagate_in_video`: every object on `frameIdx`. */
  async propagateFrame(state: VideoState, frameIdx: number, reverse: boolean): Promise<FrameOutput> {
    const objIds = state.objIds;
    const lowRes: (Float32Array | null)[] = [];
    for (const objId of objIds) {
      const obj = state.objects.get(objId)!;
      let rec = obj.cond.get(frameIdx);
      if (!rec) {
        rec = await this.trackFrame(state, obj, frameIdx, false, null, reverse, true);
        obj.nonCond.set(frameIdx, rec);
      }
      obj.framesTracked.set(frameIdx, reverse);
      lowRes.push(rec.predMasks);
      obj.nonCond.trim(frameIdx, this.keepFrames, reverse);
    }
    return { frameIdx, objIds, lowRes };
  }

  // -- objects -------------------------------------------------------------------------------

  /** official clear_all_prompts_in_frame: the frame's prompts go; a conditioning frame's output
   * becomes a tracked frame's. */
  clearAllPromptsInFrame(state: VideoState, frameIdx: number, objId: number): FrameOutput {
    state.checkFrame(frameIdx);
    const obj = state.object(objId);
    obj.pointInputs.delete(frameIdx);
    obj.tempCond.delete(frameIdx);
    obj.tempNonCond.delete(frameIdx);
    const out = obj.cond.take(frameIdx);
    if (out) {
      obj.nonCond.set(frameIdx, out);
      obj.framesTracked.delete(frameIdx);
    }
    const isCond = [...state.objects.values()].some((o) => o.tempCond.has(frameIdx));
    return this.frameOutput(state, frameIdx, isCond);
  }

  removeObject(state: VideoState, objId: number): void {
    state.object(objId).clear();
    state.objects.delete(objId);
  }
}

/** The frames from `start`, at most `max` more, forwards or in reverse (propagate_in_video). */
export function frameOrder(
  state: { numFrames: number; checkFrame(i: number): number },
  start: number,
  max: number | null,
  reverse: boolean,
): number[] {
  state.checkFrame(start);
  const count = max ?? state.numFrames;
  if (!Number.isInteger(count) || count < 0) throw new PromptError('the number of frames to track must be a whole number >= 0');
  const order: number[] = [];
  if (reverse) {
    const end = Math.max(start - count, 0);
    if (start > 0) for (let i = start; i >= end; i--) order.push(i);
  } else {
    const end = Math.min(start + count, state.numFrames - 1);
    for (let i = start; i <= end; i++) order.push(i);
  }
  return order;
}
