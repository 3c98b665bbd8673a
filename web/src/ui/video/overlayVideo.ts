// The tracked video with its overlays as a WebM file, made in the page: each tracked frame drawn
// with every object's mask (as on screen), encoded with WebCodecs (VP9, else VP8) and muxed by
// mediabunny. Frames in order, at the video's frame rate.

import { BufferTarget, CanvasSource, canEncodeVideo, Output, QUALITY_HIGH, type VideoCodec, WebMOutputFormat } from 'mediabunny';
import { overlayPixels } from '../../engine/imageOps';
import { decodeRle, type Tracks } from './tracks';
import type { OpenedVideo } from './videoFile';

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

export async function overlayWebm(
  video: OpenedVideo,
  tracks: Tracks,
  colorOf: (id: number) => [number, number, number],
  onFrame: (done: number, total: number) => void = () => {},
): Promise<Blob> {
  const frames = tracks.frameIndices();
  if (!frames.length) throw new Error('nothing is tracked yet');
  // 4:2:0 encoders want even sides: the last odd row or column is left out.
  const width = Math.max(2, video.width & ~1),
    height = Math.max(2, video.height & ~1);
  let codec: VideoCodec | null = null;
  for (const c of ['vp9', 'vp8'] as const) {
    if (await canEncodeVideo(c, { width, height })) {
      codec = c;
      break;
    }
  }
  if (!codec) throw new Error(`this browser cannot encode a ${width}x${height} VP9 or VP8 video`);
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d')!;
  const target = new BufferTarget();
  const output = new Output({ format: new WebMOutputFormat(), target });
  const source = new CanvasSource(canvas, { codec, bitrate: QUALITY_HIGH });
  output.addVideoTrack(source, { frameRate: video.fps });
  await output.start();
  for (let i = 0; i < frames.length; i++) {
    const bitmap = await video.frame(frames[i]);
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
    drawMasks(ctx, tracks, frames[i], video.width, video.height, colorOf);
    await source.add(i / video.fps, 1 / video.fps);
    onFrame(i + 1, frames.length);
  }
  await output.finalize();
  return new Blob([target.buffer as ArrayBuffer], { type: 'video/webm' });
}
