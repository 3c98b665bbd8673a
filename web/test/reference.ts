// The reference data written by fixtures/make_fixtures.py from Pillow, the Python predictor's
// transforms and pycocotools.

import { readFileSync } from 'node:fs';

export interface ImageCase {
  width: number;
  height: number;
  size: number;
  rgba: number[];
  squash: number[];
  longest_side_shape: [number, number];
  longest_side: number[];
}
export interface UpsampleCase {
  low: number;
  width: number;
  height: number;
  size: number;
  logits: number[];
  squash: number[];
  longest_side: number[];
}
export interface MaskCase {
  width: number;
  height: number;
  bits: number[];
  counts: string;
  area: number;
  bbox: number[];
}

export const reference = JSON.parse(readFileSync(new URL('./fixtures/reference.json', import.meta.url), 'utf8')) as {
  images: ImageCase[];
  upsampling: UpsampleCase[];
  masks: MaskCase[];
  download: { manifest: unknown; bytes: number; download_bytes: Record<string, number> };
};

/** The largest absolute difference between two arrays of the same length. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
