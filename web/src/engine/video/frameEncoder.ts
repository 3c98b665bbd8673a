// A frame's image features, as both video predictors get them: the frame asked of the page,
// preprocessed (on the GPU where gpuPreprocess.ts can, else in JavaScript), encoded, and kept for
// the last FEATURE_CACHE_FRAMES frames (a prompt, its propagation's first step and a correction
// reuse them; older ones are let go, so memory does not grow with the video).

import type { GpuPreprocess } from '../gpuPreprocess';
import type { Tensor } from '../runtime';
import type { StageClock } from './stageClock';
import type { FrameSource, VideoSessions } from './types';

export const FEATURE_CACHE_FRAMES = 2;
/** Where a frame's GPU-preprocessed input is kept with its features (not a graph output): the
 * buffer goes when the features go, after the encoder's commands that read it. */
const FRAME_INPUT = 'frame_input';

export type Features = Record<string, Tensor>;

/** A cache entry without the kept frame input: what callers get (no graph takes the input). */
function graphFeatures(feats: Features): Features {
  const { [FRAME_INPUT]: _input, ...rest } = feats;
  return rest;
}

export interface PreprocessingCheck {
  onGpu: boolean;
  /** Input floats that differ, and the largest difference (both 0 when bit-exact). */
  differing: number;
  maxAbsDiff: number;
}

export class FrameEncoder {
  constructor(
    private readonly sessions: VideoSessions,
    /** The encoder's feeds from RGBA pixels, in JavaScript (the reference). */
    private readonly cpuFeeds: (rgba: Uint8ClampedArray, width: number, height: number) => Features,
    /** The encoder's outputs -> the features the predictor reads. */
    private readonly pick: (outputs: Features) => Features,
    /** WebGPU: the same preprocessing on the GPU, and the encoder input it feeds. */
    private readonly gpu: { preprocess: GpuPreprocess; input: string } | null = null,
  ) {}

  private get clock(): StageClock {
    return this.sessions.clock;
  }

  /** Frame `frameIdx`'s features (cached in `cache`, which the caller disposes with the kept
   * frame input inside). */
  async features(cache: Map<number, Features>, video: FrameSource, frameIdx: number): Promise<Features> {
    const cached = cache.get(frameIdx);
    if (cached) {
      cache.delete(frameIdx);
      cache.set(frameIdx, cached);
      return graphFeatures(cached);
    }
    const rgba = await this.clock.time('frame', () => video.get(frameIdx));
    const t0 = performance.now();
    let input: Tensor | null = null;
    let feeds: Features;
    if (this.gpu) {
      input = this.gpu.preprocess.run(rgba, video.width, video.height);
      feeds = { [this.gpu.input]: input };
    } else feeds = this.cpuFeeds(rgba, video.width, video.height);
    this.clock.add('preprocess', performance.now() - t0);
    const feats = this.pick(await this.sessions.run('encoder', feeds));
    if (input) feats[FRAME_INPUT] = input;
    cache.set(frameIdx, feats);
    while (cache.size > FEATURE_CACHE_FRAMES) {
      const [oldest, old] = cache.entries().next().value as [number, Features];
      cache.delete(oldest);
      for (const t of Object.values(old)) t.dispose();
    }
    return graphFeatures(feats);
  }

  /** Frame `frameIdx` preprocessed on the GPU against the JavaScript reference. */
  async checkPreprocessing(video: FrameSource, frameIdx: number): Promise<PreprocessingCheck> {
    if (!this.gpu) return { onGpu: false, differing: 0, maxAbsDiff: 0 };
    const rgba = await video.get(frameIdx);
    const want = this.cpuFeeds(rgba, video.width, video.height)[this.gpu.input].data as Float32Array;
    const tensor = this.gpu.preprocess.run(rgba, video.width, video.height);
    try {
      const got = await this.gpu.preprocess.read(tensor);
      let differing = 0,
        maxAbsDiff = 0;
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(got[i] - want[i]);
        if (!(d === 0)) differing++;
        if (d > maxAbsDiff) maxAbsDiff = d;
      }
      return { onGpu: true, differing, maxAbsDiff };
    } finally {
      tensor.dispose();
    }
  }
}
