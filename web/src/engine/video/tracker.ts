// The worker's side of a video: the loaded tracking model, the tracking state of the one open
// video, its frames asked of the page, and each frame's result as the page keeps it (COCO RLE
// per object at the video's resolution, as the Python predictor's `state.results`).

import { EngineError } from '../errors';
import { maskStats, rleCounts } from '../exporters';
import { threshold } from '../imageOps';
import type { PreprocessingCheck } from './frameEncoder';
import type { StageTimes } from './stageClock';

export type { PreprocessingCheck } from './frameEncoder';

import type { FrameOutput, FrameSource, PromptInput, TrackingState } from './types';
import type { VideoModel } from './videoModel';

/** One object's mask on one frame: COCO RLE counts (column-major runs, background first). */
export interface ObjectMask {
  objId: number;
  counts: number[];
  area: number;
  /** [x, y, w, h] around the mask, null when it is empty. */
  bbox: [number, number, number, number] | null;
}

export interface VideoFrameResult {
  frameIdx: number;
  masks: ObjectMask[];
  /** Time the worker spent on this frame. */
  ms: number;
  /** Where that time went, ms per stage (stageClock.ts). */
  stages: StageTimes;
}

export interface TrackerStats {
  /** Bytes of the memory bank (records of prompted and tracked frames) held now. */
  bankBytes: number;
  /** Frames whose image features are held now. */
  featureFrames: number;
  /** WebGPU: the memory bank's GPU buffers alive now (0 on WASM). */
  gpuMemories: number;
}

function objectMask(objId: number, logits: Float32Array | null, width: number, height: number, t: number): ObjectMask {
  if (!logits) return { objId, counts: [width * height], area: 0, bbox: null };
  const bits = threshold(logits, t);
  const { area, bbox } = maskStats(bits, width, height);
  return { objId, counts: rleCounts(bits, width, height), area, bbox: area ? (bbox as [number, number, number, number]) : null };
}

export class Tracker {
  readonly state: TrackingState;
  /** The running propagation's frames, in order, and whether it waits for the GPU per graph. */
  private order: number[] = [];
  private syncStages = false;

  constructor(
    readonly model: VideoModel,
    readonly source: FrameSource,
  ) {
    this.state = model.predictor.initState(source);
  }

  private result(out: FrameOutput, t0: number): VideoFrameResult {
    const { width, height } = this.state;
    const t = this.model.predictor.maskThreshold;
    const t1 = performance.now();
    const masks = out.objIds.map((id, i) => {
      const low = out.lowRes[i];
      return objectMask(id, low ? this.model.upsample(low, width, height) : null, width, height, t);
    });
    const clock = this.model.clock;
    clock.add('postprocess', performance.now() - t1);
    return { frameIdx: out.frameIdx, masks, ms: performance.now() - t0, stages: clock.take() };
  }

  async addPrompt(frameIdx: number, objId: number, prompt: PromptInput): Promise<VideoFrameResult> {
    const t0 = this.startClock();
    return this.result(await this.model.predictor.addNewPointsOrBox(this.state, frameIdx, objId, prompt), t0);
  }

  /** Starts a propagation -> the frames it will visit, in order. syncStages: wait for the GPU
   * after every graph, so each stage's time is its own (profiling; slower overall). */
  async start(startFrame: number | null, maxFrames: number | null, reverse: boolean, syncStages = false): Promise<number[]> {
    this.syncStages = syncStages;
    this.startClock();
    this.order = await this.model.predictor.propagationOrder(this.state, startFrame, maxFrames, reverse);
    return this.order;
  }

  async step(frameIdx: number, reverse: boolean): Promise<VideoFrameResult> {
    const t0 = this.startClock(this.syncStages);
    this.state.checkFrame(frameIdx);
    // The page decodes the next frame while this one runs.
    const at = this.order.indexOf(frameIdx);
    if (at >= 0 && at + 1 < this.order.length) this.source.prefetch?.(this.order[at + 1]);
    return this.result(await this.model.predictor.propagateFrame(this.state, frameIdx, reverse), t0);
  }

  clearPrompts(frameIdx: number, objId: number): VideoFrameResult {
    const t0 = this.startClock();
    return this.result(this.model.predictor.clearAllPromptsInFrame(this.state, frameIdx, objId), t0);
  }

  removeObject(objId: number): void {
    this.model.predictor.removeObject(this.state, objId);
  }

  reset(): void {
    this.model.predictor.resetState(this.state);
  }

  checkPreprocessing(frameIdx: number): Promise<PreprocessingCheck> {
    return this.model.predictor.checkPreprocessing(this.state, frameIdx);
  }

  /** -> now; what the clock held before (another call's leftovers) is dropped. sync: wait for
   * the GPU after each graph of this call (a propagation started with syncStages; never a prompt). */
  private startClock(sync = false): number {
    const clock = this.model.clock;
    clock.take();
    clock.sync = sync ? this.model.gpuDone : null;
    return performance.now();
  }

  stats(): TrackerStats {
    return { bankBytes: this.state.bankBytes(), featureFrames: this.state.features.size, gpuMemories: this.model.gpuMemories?.live ?? 0 };
  }

  dispose(): void {
    this.state.dispose();
  }
}

export function noTracker(): never {
  throw new EngineError('no video is open (openVideo first)', 'state');
}
