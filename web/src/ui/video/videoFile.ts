// Opening a video on the page: a video file (mp4, webm, mov...) demuxed by mediabunny and decoded
// with WebCodecs, or a sequence of image files (frames in name order, like SAM2's JPEG folders).
// Frames are decoded when asked for; every problem is a VideoFileError with a plain message.

import { ALL_FORMATS, BlobSource, EncodedPacketSink, Input, type InputVideoTrack, VideoSampleSink } from 'mediabunny';
import type { PageFrameSource } from '../../engine';
import { FrameReader } from './frameReader';

/** The same limit as the Python tracker (SAM2WEB_MAX_VIDEO_PIXELS default): 8K UHD. */
export const MAX_VIDEO_PIXELS = 7680 * 4320;

export class VideoFileError extends Error {}

export interface OpenedVideo extends PageFrameSource {
  name: string;
  fps: number;
  /** Presentation time of each frame in seconds. */
  times: number[];
  close(): void;
}

function checkSize(name: string, width: number, height: number): void {
  if (!(width > 0 && height > 0)) throw new VideoFileError(`${name} has frames of zero size (${width}x${height})`);
  if (width * height > MAX_VIDEO_PIXELS) {
    throw new VideoFileError(
      `${name} is ${width}x${height} = ${(width * height).toLocaleString('en')} pixels per frame, over the limit of ` +
        `${MAX_VIDEO_PIXELS.toLocaleString('en')} (8K UHD): scale it down first (e.g. ffmpeg -i IN -vf scale=-2:2160 OUT.mp4)`,
    );
  }
}

const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

/** Several image files as the frames of one video, in natural name order (frame2 before frame10). */
export async function openImageSequence(files: File[]): Promise<OpenedVideo> {
  const sorted = [...files].sort((a, b) => naturalOrder(a.name, b.name));
  const decode = async (f: File) => {
    try {
      return await createImageBitmap(f, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    } catch {
      throw new VideoFileError(`${f.name} is not an image this browser can decode`);
    }
  };
  const first = await decode(sorted[0]);
  const { width, height } = first;
  first.close();
  const name = `${sorted.length} frames (${sorted[0].name}…)`;
  checkSize(name, width, height);
  const fps = 30;
  return {
    name,
    numFrames: sorted.length,
    width,
    height,
    fps,
    times: sorted.map((_, i) => i / fps),
    frame: async (i) => {
      const bitmap = await decode(sorted[i]);
      if (bitmap.width !== width || bitmap.height !== height) {
        bitmap.close();
        throw new VideoFileError(`${sorted[i].name} is ${bitmap.width}x${bitmap.height}, not ${width}x${height} like the first frame`);
      }
      return bitmap;
    },
    close: () => {},
  };
}

async function videoTrack(input: Input, name: string): Promise<InputVideoTrack> {
  let track: InputVideoTrack | null;
  try {
    track = await input.getPrimaryVideoTrack();
  } catch (e) {
    throw new VideoFileError(`${name} is not a video this page can read (mp4, webm, mov, mkv): ${(e as Error).message}`);
  }
  if (!track) throw new VideoFileError(`${name} has no video frames (no video track)`);
  if (!(await track.canDecode())) {
    const codec = track.codec ?? (await track.getCodecParameterString()) ?? 'an unknown codec';
    throw new VideoFileError(
      `${name} is encoded with ${codec}, which this browser cannot decode: convert it to H.264 or VP9 (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)`,
    );
  }
  return track;
}

/** A video file: its frames indexed once (packet timestamps, no decoding), decoded on demand. */
export async function openVideoFile(file: Blob, name: string): Promise<OpenedVideo> {
  const input = new Input({ source: new BlobSource(file), formats: ALL_FORMATS });
  try {
    const track = await videoTrack(input, name);
    const width = await track.getDisplayWidth();
    const height = await track.getDisplayHeight();
    checkSize(name, width, height);
    const times: number[] = [];
    try {
      for await (const packet of new EncodedPacketSink(track).packets(undefined, undefined, { metadataOnly: true }))
        times.push(packet.timestamp);
    } catch (e) {
      if (!times.length) throw new VideoFileError(`${name} is corrupt: ${(e as Error).message}`);
      // a truncated file: the frames before the damage are kept
    }
    if (!times.length) throw new VideoFileError(`${name} has no video frames`);
    times.sort((a, b) => a - b);
    const span = times.length > 1 ? times[times.length - 1] - times[0] : 0;
    const fps = span > 0 ? (times.length - 1) / span : 30;
    const reader = new FrameReader(
      new VideoSampleSink(track),
      times,
      width,
      height,
      (i, cause) => new VideoFileError(`frame ${i} of ${name} cannot be decoded (the file may be corrupt): ${cause}`),
    );
    const frame = (i: number) => reader.frame(i);
    (await frame(0)).close();
    return {
      name,
      numFrames: times.length,
      width,
      height,
      fps,
      times,
      frame,
      close: () => {
        reader.close();
        input.dispose();
      },
    };
  } catch (e) {
    input.dispose();
    if (e instanceof VideoFileError) throw e;
    throw new VideoFileError(`${name} cannot be opened: ${(e as Error).message}`);
  }
}
