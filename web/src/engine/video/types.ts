// What the video predictors (video.ts: SAM2 memory; frameByFrame.ts: SAM1-family, no memory)
// share: frames supplied by the page, prompts, per-frame outputs, the sessions they run.

import { EngineError } from '../errors';
import type { Tensor } from '../runtime';
import type { PreprocessingCheck } from './frameEncoder';
import type { StageClock } from './stageClock';

/** A video's frames, decoded when asked for (by the page: WebCodecs, image files...). */
export interface FrameSource {
  numFrames: number;
  width: number;
  height: number;
  /** RGBA pixels of frame `idx` (width x height). */
  get(idx: number): Promise<Uint8ClampedArray>;
  /** Starts getting frame `idx` now, for a `get` soon after (the page decodes it meanwhile). */
  prefetch?(idx: number): void;
}

/** Points [x, y, label] (1 positive, 0 negative) and/or a box x0, y0, x1, y1, in frame pixels. */
export interface PromptInput {
  points?: [number, number, number][];
  box?: [number, number, number, number] | null;
  /** Add to this object's earlier points on the frame instead of replacing them. */
  clearOldPoints?: boolean;
}

/** Every object's low-res logits (256 x 256) on one frame; null where an object has none. */
export interface FrameOutput {
  frameIdx: number;
  objIds: number[];
  lowRes: (Float32Array | null)[];
}

/** A prompt, frame or object the tracker cannot take: the message says which and why. */
export class PromptError extends EngineError {
  constructor(message: string) {
    super(message, 'prompt');
  }
}

/** The model's graphs by role (video/videoModel.ts). */
export interface VideoSessions {
  /** Times each run, and what the predictor times itself (frames, preprocessing). */
  readonly clock: StageClock;
  run(role: string, feeds: Record<string, Tensor>, outputs?: string[]): Promise<Record<string, Tensor>>;
}

/** What a tracking state offers besides its predictor's bookkeeping. */
export interface TrackingState {
  readonly numFrames: number;
  readonly width: number;
  readonly height: number;
  readonly features: Map<number, unknown>;
  checkFrame(frameIdx: number): number;
  bankBytes(): number;
  dispose(): void;
}

/** The calls both predictors answer (official SAM2VideoPredictor's, in the engine's naming). */
export interface Tracking<S extends TrackingState = TrackingState> {
  readonly method: string;
  readonly hasMemory: boolean;
  readonly maskThreshold: number;
  initState(video: FrameSource): S;
  resetState(state: S): void;
  addNewPointsOrBox(state: S, frameIdx: number, objId: number, prompt: PromptInput): Promise<FrameOutput>;
  /** Starts a propagation (official preflight) -> the frames it visits, in order. */
  propagationOrder(state: S, startFrameIdx: number | null, maxFrameNumToTrack: number | null, reverse: boolean): Promise<number[]>;
  /** One frame of the propagation: every object on it. */
  propagateFrame(state: S, frameIdx: number, reverse: boolean): Promise<FrameOutput>;
  /** One object's prompts on one frame removed (official clear_all_prompts_in_frame) -> every
   * object's output on that frame. */
  clearAllPromptsInFrame(state: S, frameIdx: number, objId: number): FrameOutput;
  removeObject(state: S, objId: number): void;
  /** Where frames are preprocessed on the GPU: that against the CPU reference. */
  checkPreprocessing(state: S, frameIdx: number): Promise<PreprocessingCheck>;
}
