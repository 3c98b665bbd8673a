import { describe, expect, it } from 'vitest';
import {
  longestSideShape,
  preprocessLongestSide,
  preprocessSquash,
  upsampleLogits,
  upsampleLogitsLongestSide,
} from '../src/engine/imageOps';
import { maxDiff, reference } from './reference';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const MEAN255 = [123.675, 116.28, 103.53];
const STD255 = [58.395, 57.12, 57.375];

describe('preprocessing matches Pillow and the Python predictor', () => {
  for (const c of reference.images) {
    const rgba = Uint8ClampedArray.from(c.rgba);
    it(`squashes ${c.width}x${c.height} to ${c.size}x${c.size} (SAM2)`, () => {
      expect(maxDiff(preprocessSquash(rgba, c.width, c.height, c.size, MEAN, STD), c.squash)).toBeLessThan(1e-6);
    });
    it(`fits ${c.width}x${c.height} by its longest side (SAM1), never a side under 1 px`, () => {
      const [h, w] = longestSideShape(c.width, c.height, c.size);
      expect([h, w]).toEqual(c.longest_side_shape);
      expect(Math.min(h, w)).toBeGreaterThanOrEqual(1);
      // 8-bit resize in Pillow's fixed point, so the same to the bit.
      expect(maxDiff(preprocessLongestSide(rgba, c.width, c.height, c.size, MEAN255, STD255), c.longest_side)).toBe(0);
    });
  }
});

describe('mask logits upsampling matches the Python predictor', () => {
  for (const c of reference.upsampling) {
    const low = Float32Array.from(c.logits);
    it(`${c.low}x${c.low} -> ${c.width}x${c.height}, squashed and longest-side`, () => {
      expect(maxDiff(upsampleLogits(low, c.low, c.low, c.width, c.height), c.squash)).toBeLessThan(1e-5);
      expect(maxDiff(upsampleLogitsLongestSide(low, c.low, c.low, c.width, c.height, c.size), c.longest_side)).toBeLessThan(1e-5);
    });
  }
});
