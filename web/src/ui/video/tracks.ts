// The tracked masks, kept compactly on the page: per frame, per object, COCO RLE at the video's
// resolution (what the engine gives). Memory grows with the masks' outlines, not with pixels.
// `cocoDocument` writes them in the layout of `sam2web track --format coco`
// (src/sam2web/predict/track_outputs.py CocoWriter).

import type { ObjectMask } from '../../engine';
import { rleToString } from '../../engine/exporters';

export class Tracks {
  /** frame -> object -> its mask there */
  readonly frames = new Map<number, Map<number, ObjectMask>>();

  set(frameIdx: number, masks: ObjectMask[]): void {
    let perFrame = this.frames.get(frameIdx);
    if (!perFrame) {
      perFrame = new Map();
      this.frames.set(frameIdx, perFrame);
    }
    for (const m of masks) perFrame.set(m.objId, m);
  }

  get(frameIdx: number): Map<number, ObjectMask> | undefined {
    return this.frames.get(frameIdx);
  }

  removeObject(objId: number): void {
    for (const perFrame of this.frames.values()) perFrame.delete(objId);
  }

  clear(): void {
    this.frames.clear();
  }

  /** Frames with a result, in order. */
  frameIndices(): number[] {
    return [...this.frames.keys()].sort((a, b) => a - b);
  }
}

/** RLE counts (column-major, background first) -> row-major bits. */
export function decodeRle(counts: number[], width: number, height: number): Uint8Array {
  const bits = new Uint8Array(width * height);
  let pos = 0,
    value = 0;
  for (const run of counts) {
    if (value) {
      for (let k = pos; k < pos + run; k++) {
        const x = (k / height) | 0;
        bits[(k - x * height) * width + x] = 1;
      }
    }
    pos += run;
    value ^= 1;
  }
  return bits;
}

export interface CocoVideoInfo {
  name: string;
  width: number;
  height: number;
  fps: number;
  numFrames: number;
  model: string;
  complete: boolean;
}

/** COCO-style JSON with per-frame RLE per object, as `sam2web track --format coco` writes it. */
export function cocoDocument(tracks: Tracks, info: CocoVideoInfo): object {
  const images: object[] = [];
  const annotations: object[] = [];
  const objects = new Set<number>();
  for (const frameIdx of tracks.frameIndices()) {
    const imageId = frameIdx + 1;
    images.push({
      id: imageId,
      video_id: 1,
      frame_index: frameIdx,
      file_name: `${String(frameIdx).padStart(5, '0')}.png`,
      width: info.width,
      height: info.height,
    });
    const perFrame = tracks.get(frameIdx)!;
    for (const objId of [...perFrame.keys()].sort((a, b) => a - b)) {
      const m = perFrame.get(objId)!;
      objects.add(objId);
      if (!m.bbox) continue;
      annotations.push({
        id: annotations.length + 1,
        image_id: imageId,
        video_id: 1,
        category_id: 1,
        track_id: objId,
        segmentation: { size: [info.height, info.width], counts: rleToString(m.counts) },
        area: m.area,
        bbox: m.bbox,
        iscrowd: 0,
      });
    }
  }
  return {
    info: { description: 'sam2web track', model: info.model, complete: info.complete, frames_written: images.length },
    videos: [
      {
        id: 1,
        file_name: info.name,
        width: info.width,
        height: info.height,
        fps: Math.round(info.fps * 1e6) / 1e6,
        length: info.numFrames,
      },
    ],
    images,
    annotations,
    categories: [{ id: 1, name: 'object' }],
    tracks: [...objects].sort((a, b) => a - b).map((id) => ({ id, category_id: 1 })),
  };
}
