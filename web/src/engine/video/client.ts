// The page's side of video tracking (Sam2Engine.openVideo): a video whose frames the page supplies,
// prompts per object and frame, and `propagate` as an async iterator of per-frame results,
// cancellable with an AbortSignal between (and during) frames.
//
//   const video = await engine.openVideo({ numFrames, width, height, frame: (i) => bitmapOf(i) });
//   await video.addPrompt(0, 1, { points: [[210, 350, 1]] });
//   for await (const r of video.propagate({ direction: 'forward', signal })) show(r.frameIdx, r.masks);

import { EngineError } from '../errors';
import type { Api, Request, RequestType, Result } from '../protocol';
import type { PreprocessingCheck, TrackerStats, VideoFrameResult } from './tracker';
import type { PromptInput } from './types';

/** Frames as the page decodes them: frame(i) gives a new ImageBitmap (the engine closes it). */
export interface PageFrameSource {
  numFrames: number;
  width: number;
  height: number;
  frame(index: number): Promise<ImageBitmap>;
}

export interface PropagateOptions {
  direction?: 'forward' | 'backward';
  /** The first frame (default: the earliest prompted frame). */
  startFrame?: number | null;
  /** At most this many frames after the first. */
  maxFrames?: number | null;
  signal?: AbortSignal;
  /** Pause: once it fires, the propagation ends (normally, no error) after the frame in flight,
   * at a frame boundary. The tracking state keeps every frame done, so a propagation started on
   * the next frame in the same direction goes on as if it had never stopped. */
  pause?: AbortSignal;
  /** Profiling on WebGPU: wait for the GPU after every graph, so each frame's `stages` are the
   * graphs' own GPU times (the run is slower). */
  syncStages?: boolean;
}

/** The promise, or a 'cancelled' rejection as soon as the signal fires (a frame the worker cannot
 * finish, say on a GPU device that went away, does not hold the caller). */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(new EngineError('tracking was cancelled', 'cancelled'));
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}

type Call = <K extends RequestType>(request: Request<K>, options?: { signal?: AbortSignal }) => Promise<Result<K>>;

export class VideoSession {
  closed = false;

  constructor(
    private readonly call: Call,
    readonly source: PageFrameSource,
  ) {}

  private check(): void {
    if (this.closed) throw new EngineError('this video was closed', 'state');
  }

  /** Points and/or a box for object `objId` on frame `frameIdx` -> every object's mask there. */
  addPrompt(frameIdx: number, objId: number, prompt: PromptInput, signal?: AbortSignal): Promise<VideoFrameResult> {
    this.check();
    return this.call({ type: 'videoPrompt', frameIdx, objId, prompt }, { signal });
  }

  /** Tracks every object frame by frame, yielding each frame's masks as it is done. */
  async *propagate(options: PropagateOptions = {}): AsyncGenerator<VideoFrameResult> {
    this.check();
    const reverse = options.direction === 'backward';
    const { signal } = options;
    const order: Api['videoStart']['result'] = await this.call(
      {
        type: 'videoStart',
        startFrame: options.startFrame ?? null,
        maxFrames: options.maxFrames ?? null,
        reverse,
        syncStages: options.syncStages ?? false,
      },
      { signal },
    );
    for (const frameIdx of order) {
      if (options.pause?.aborted) return;
      if (signal?.aborted) throw new EngineError('tracking was cancelled', 'cancelled');
      this.check();
      yield await untilAborted(this.call({ type: 'videoStep', frameIdx, reverse }, { signal }), signal);
    }
  }

  /** Removes object `objId`'s prompts on frame `frameIdx` -> every object's mask there. */
  clearPrompts(frameIdx: number, objId: number): Promise<VideoFrameResult> {
    this.check();
    return this.call({ type: 'videoClearPrompts', frameIdx, objId });
  }

  removeObject(objId: number): Promise<null> {
    this.check();
    return this.call({ type: 'videoRemoveObject', objId });
  }

  reset(): Promise<null> {
    this.check();
    return this.call({ type: 'videoReset' });
  }

  stats(): Promise<TrackerStats> {
    return this.call({ type: 'videoStats' });
  }

  /** Frame `frameIdx` preprocessed on the GPU against the CPU reference (checks, bug reports). */
  checkPreprocessing(frameIdx: number): Promise<PreprocessingCheck> {
    this.check();
    return this.call({ type: 'videoCheckPreprocessing', frameIdx });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.call({ type: 'videoClose' });
  }
}
