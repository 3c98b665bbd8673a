// Frames of a video file as ImageBitmaps, decoded the cheap way for the order they are asked in.
// A lone `getSample(t)` starts a decoder at the key frame before t and decodes up to t: asked for
// frame after frame (tracking, playback), that decodes a whole group of pictures per frame. Here
// forward access continues one running decoder (mediabunny's `samples()`, which also decodes a
// few frames ahead), backward access decodes a chunk of frames once and serves them from a small
// cache, and a frame asked for twice (by the tracker and by the display) is decoded once.

import type { VideoSample, VideoSampleSink } from 'mediabunny';

/** Frames decoded ahead of the cursor rather than starting a new decoder (a typical key-frame gap). */
const MAX_SKIP = 90;
/** Frames decoded at once when going backward (each chunk restarts at a key frame). */
const BACKWARD_CHUNK = 16;
/** Decoded frames kept (covers a backward chunk and the frame on screen). */
const CACHE_FRAMES = 24;

type Cursor = { samples: AsyncGenerator<VideoSample, void, unknown>; next: number };

export class FrameReader {
  private readonly cache = new Map<number, ImageBitmap>();
  private cursor: Cursor | null = null;
  private lastAsked = -1;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly sink: VideoSampleSink,
    /** Presentation time of each frame, sorted (seconds). */
    private readonly times: number[],
    private readonly width: number,
    private readonly height: number,
    /** Why a frame could not be decoded -> the error to throw. */
    private readonly failure: (index: number, cause: string) => Error,
  ) {}

  /** Frame `index` as a new ImageBitmap (the caller closes it). */
  frame(index: number): Promise<ImageBitmap> {
    const run = this.queue.then(() => this.read(index));
    this.queue = run.catch(() => {});
    return run;
  }

  close(): void {
    this.closed = true;
    void this.stopCursor();
    for (const b of this.cache.values()) b.close();
    this.cache.clear();
  }

  private async read(index: number): Promise<ImageBitmap> {
    if (this.closed) throw this.failure(index, 'the video was closed');
    const backward = index === this.lastAsked - 1;
    this.lastAsked = index;
    let bitmap = this.cache.get(index);
    if (!bitmap) {
      try {
        if (backward && !this.ahead(index)) await this.decodeChunk(Math.max(0, index - BACKWARD_CHUNK + 1), index);
        else await this.decodeForward(index);
      } catch (e) {
        await this.stopCursor();
        throw this.failure(index, (e as Error).message);
      }
      bitmap = this.cache.get(index);
      if (!bitmap) throw this.failure(index, 'no frame has that timestamp');
    }
    // Recently used last: the cache drops the least recently used.
    this.cache.delete(index);
    this.cache.set(index, bitmap);
    return createImageBitmap(bitmap);
  }

  /** The running decoder reaches `index` soon. */
  private ahead(index: number): boolean {
    return this.cursor !== null && this.cursor.next <= index && index - this.cursor.next <= MAX_SKIP;
  }

  private async decodeForward(index: number): Promise<void> {
    if (!this.ahead(index)) {
      await this.stopCursor();
      this.cursor = { samples: this.sink.samples(this.times[index]), next: index };
    }
    const cursor = this.cursor!;
    while (cursor.next <= index) {
      const { value: sample, done } = await cursor.samples.next();
      if (done) break;
      const at = this.indexOf(sample.timestamp);
      if (at >= cursor.next) {
        cursor.next = at + 1;
        if (at === index) this.keep(at, sample);
      }
      sample.close();
    }
  }

  private async decodeChunk(first: number, last: number): Promise<void> {
    await this.stopCursor();
    const samples = this.sink.samples(this.times[first]);
    try {
      for await (const sample of samples) {
        const at = this.indexOf(sample.timestamp);
        if (at >= first && at <= last && !this.cache.has(at)) this.keep(at, sample);
        sample.close();
        if (at >= last) break;
      }
    } finally {
      await samples.return();
    }
  }

  private keep(index: number, sample: VideoSample): void {
    const canvas = new OffscreenCanvas(this.width, this.height);
    sample.drawWithFit(canvas.getContext('2d')!, { fit: 'fill' });
    this.cache.set(index, canvas.transferToImageBitmap());
    while (this.cache.size > CACHE_FRAMES) {
      const [oldest, old] = this.cache.entries().next().value as [number, ImageBitmap];
      this.cache.delete(oldest);
      old.close();
    }
  }

  /** The frame whose presentation time is nearest `timestamp`. */
  private indexOf(timestamp: number): number {
    const t = this.times;
    let lo = 0,
      hi = t.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (t[mid] < timestamp) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && timestamp - t[lo - 1] < t[lo] - timestamp ? lo - 1 : lo;
  }

  private async stopCursor(): Promise<void> {
    const c = this.cursor;
    this.cursor = null;
    await c?.samples.return();
  }
}
