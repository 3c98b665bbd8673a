// The tracked video as a file, made in the page: each tracked frame encoded with WebCodecs and
// muxed by mediabunny, frames in order at the video's frame rate.
// - overlay: the frame with every object's mask drawn as on screen;
// - cutout: only the tracked objects' pixels, the rest transparent (WebM with an alpha channel,
//   where the encoder can: VP9/VP8 with alpha side data) or black (MP4, or no alpha encoder).
// Containers: WebM (VP9, else VP8, else AV1) and MP4 (H.264, else HEVC, VP9 or AV1 in MP4: a
// browser without an H.264 encoder, as Debian's Chromium, gets one of those and is told so).

import {
  BufferTarget,
  CanvasSource,
  canEncodeVideo,
  Mp4OutputFormat,
  Output,
  QUALITY_HIGH,
  type VideoCodec,
  WebMOutputFormat,
} from 'mediabunny';
import { overlayPixels } from '../../engine/imageOps';
import { decodeRle, type Tracks } from './tracks';
import type { OpenedVideo } from './videoFile';

export type TrackedVideoKind = 'overlay' | 'cutout';
export type VideoContainer = 'webm' | 'mp4';

/** Codecs tried in order, per container. */
export const CONTAINER_CODECS: Record<VideoContainer, VideoCodec[]> = {
  webm: ['vp9', 'vp8', 'av1'],
  mp4: ['avc', 'hevc', 'vp9', 'av1'],
};

const CODEC_NAMES: Record<string, string> = { avc: 'H.264', hevc: 'HEVC (H.265)', vp9: 'VP9', vp8: 'VP8', av1: 'AV1' };

export interface TrackedVideo {
  blob: Blob;
  name: string;
  codec: VideoCodec;
  /** The cutout's background is transparent (an alpha channel), not black. */
  alpha: boolean;
  frames: number;
  /** What the file holds, in words (shown to the user). */
  note: string;
}

/** Draws every object's mask of one frame over `ctx` (translucent fill, opaque outline). */
export function drawMasks(
  ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
  tracks: Tracks,
  frameIdx: number,
  width: number,
  height: number,
  colorOf: (id: number) => [number, number, number],
): void {
  const masks = tracks.get(frameIdx);
  if (!masks) return;
  const layer = new OffscreenCanvas(width, height);
  const image = new ImageData(width, height);
  for (const m of masks.values()) {
    if (!m.area) continue;
    const { pixels } = overlayPixels(decodeRle(m.counts, width, height), width, height, colorOf(m.objId), true, true);
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i + 3]) image.data.set(pixels.subarray(i, i + 4), i);
  }
  layer.getContext('2d')!.putImageData(image, 0, 0);
  ctx.drawImage(layer, 0, 0);
}

/** The union of every object's mask on one frame (1 inside), at the video's resolution. */
export function unionMask(tracks: Tracks, frameIdx: number, width: number, height: number): Uint8Array {
  const union = new Uint8Array(width * height);
  for (const m of tracks.get(frameIdx)?.values() ?? []) {
    if (!m.area) continue;
    const bits = decodeRle(m.counts, width, height);
    for (let i = 0; i < bits.length; i++) if (bits[i]) union[i] = 1;
  }
  return union;
}

/** One frame's cutout: the frame's pixels inside the objects' masks; outside, transparent black
 * (alpha 0) or opaque black. */
export function cutoutPixels(rgba: Uint8ClampedArray, mask: Uint8Array, alpha: boolean): Uint8ClampedArray<ArrayBuffer> {
  const out = new Uint8ClampedArray(rgba.length);
  for (let i = 0, p = 0; p < mask.length; i += 4, p++) {
    if (mask[p]) {
      out[i] = rgba[i];
      out[i + 1] = rgba[i + 1];
      out[i + 2] = rgba[i + 2];
      out[i + 3] = 255;
    } else out[i + 3] = alpha ? 0 : 255;
  }
  return out;
}

/** The first codec of `codecs` this browser encodes at that size, or null. */
export async function encodableCodec(codecs: VideoCodec[], width: number, height: number): Promise<VideoCodec | null> {
  for (const c of codecs) if (await canEncodeVideo(c, { width, height })) return c;
  return null;
}

export async function encodeTrackedVideo(
  video: OpenedVideo,
  tracks: Tracks,
  colorOf: (id: number) => [number, number, number],
  kind: TrackedVideoKind,
  container: VideoContainer,
  onFrame: (done: number, total: number) => void = () => {},
): Promise<TrackedVideo> {
  const frames = tracks.frameIndices();
  if (!frames.length) throw new Error('nothing is tracked yet');
  // 4:2:0 encoders want even sides: the last odd row or column is left out.
  const width = Math.max(2, video.width & ~1),
    height = Math.max(2, video.height & ~1);
  const codecs = CONTAINER_CODECS[container];
  const codec = await encodableCodec(codecs, width, height);
  if (!codec) {
    const names = codecs.map((c) => CODEC_NAMES[c]).join(', ');
    throw new Error(`this browser cannot encode a ${width}x${height} video in any codec ${container.toUpperCase()} holds here (${names})`);
  }
  // Transparency: only WebM carries the alpha side data mediabunny writes (VP9/VP8).
  const alpha = kind === 'cutout' && container === 'webm' && (codec === 'vp9' || codec === 'vp8');
  const name = `${kind}.${container}`;
  const notes = [`${name}: ${frames.length} frames, ${CODEC_NAMES[codec]} in ${container.toUpperCase()}`];
  if (container === 'mp4' && codec !== 'avc') notes.push(`this browser has no H.264 encoder, so the MP4 holds ${CODEC_NAMES[codec]}`);
  if (kind === 'cutout')
    notes.push(alpha ? 'transparent background (alpha channel)' : 'black background (this format has no alpha channel here)');
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: kind === 'cutout' })!;
  const target = new BufferTarget();
  const output = new Output({
    format: container === 'webm' ? new WebMOutputFormat() : new Mp4OutputFormat({ fastStart: 'in-memory' }),
    target,
  });
  const source = new CanvasSource(canvas, { codec, bitrate: QUALITY_HIGH, alpha: alpha ? 'keep' : 'discard' });
  output.addVideoTrack(source, { frameRate: video.fps });
  await output.start();
  for (let i = 0; i < frames.length; i++) {
    const bitmap = await video.frame(frames[i]);
    ctx.clearRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    if (kind === 'overlay') drawMasks(ctx, tracks, frames[i], video.width, video.height, colorOf);
    else {
      const full = ctx.getImageData(0, 0, video.width, video.height);
      const mask = unionMask(tracks, frames[i], video.width, video.height);
      ctx.putImageData(new ImageData(cutoutPixels(full.data, mask, alpha), video.width, video.height), 0, 0);
    }
    await source.add(i / video.fps, 1 / video.fps);
    onFrame(i + 1, frames.length);
  }
  await output.finalize();
  const blob = new Blob([target.buffer as ArrayBuffer], { type: container === 'webm' ? 'video/webm' : 'video/mp4' });
  return { blob, name, codec, alpha, frames: frames.length, note: `${notes.join('; ')}.` };
}
