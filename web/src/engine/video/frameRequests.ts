// Frames asked of the page: the worker posts a 'frame-wanted' event with a ticket and waits for
// the page's answer (an ImageBitmap it decoded, or why it could not), read into RGBA pixels here.

import { EngineError } from '../errors';
import type { FrameSource } from './types';

const PREFETCH_FRAMES = 2;

export class FrameRequests {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (b: ImageBitmap) => void; reject: (e: Error) => void }>();

  constructor(private readonly post: (ticket: number, index: number) => void) {}

  /** The page's answer to a ticket. */
  answer(ticket: number, image: ImageBitmap | null, error?: string): void {
    const w = this.waiting.get(ticket);
    if (!w) {
      image?.close();
      return;
    }
    this.waiting.delete(ticket);
    if (image) w.resolve(image);
    else w.reject(new EngineError(error || 'the page gave no frame', 'prompt'));
  }

  /** Every frame still awaited fails (the video was closed or switched). */
  abandon(reason: string): void {
    for (const w of this.waiting.values()) w.reject(new EngineError(reason, 'cancelled'));
    this.waiting.clear();
  }

  source(numFrames: number, width: number, height: number): FrameSource {
    const read = async (index: number): Promise<Uint8ClampedArray> => {
      const ticket = this.next++;
      const bitmap = await new Promise<ImageBitmap>((resolve, reject) => {
        this.waiting.set(ticket, { resolve, reject });
        this.post(ticket, index);
      });
      try {
        if (bitmap.width !== width || bitmap.height !== height) {
          throw new EngineError(`frame ${index} is ${bitmap.width}x${bitmap.height}, not ${width}x${height} like the video`, 'prompt');
        }
        const canvas = new OffscreenCanvas(width, height);
        const ctx = canvas.getContext('2d', { willReadFrequently: true });
        if (!ctx) throw new EngineError('this browser cannot read frame pixels in a worker (no 2D OffscreenCanvas)', 'internal');
        ctx.drawImage(bitmap, 0, 0);
        return ctx.getImageData(0, 0, width, height).data;
      } finally {
        bitmap.close();
      }
    };
    // Frames asked for ahead of time (at most PREFETCH_FRAMES), each taken by the next `get`.
    const ahead = new Map<number, Promise<Uint8ClampedArray>>();
    const prefetch = (index: number) => {
      if (ahead.has(index)) return;
      const pending = read(index);
      pending.catch(() => {}); // a frame nobody takes may fail unseen; `get` sees its error
      ahead.set(index, pending);
      while (ahead.size > PREFETCH_FRAMES) ahead.delete(ahead.keys().next().value as number);
    };
    const get = (index: number): Promise<Uint8ClampedArray> => {
      const pending = ahead.get(index);
      ahead.delete(index);
      return pending ?? read(index);
    };
    return { numFrames, width, height, get, prefetch };
  }
}
