import { describe, expect, it } from 'vitest';
import { rleCounts } from '../src/engine/exporters';
import { rleFromString } from '../src/ui/importAnnotations';
import { reference } from './reference';

describe('COCO compact RLE strings read back', () => {
  for (const c of reference.masks) {
    it(`pycocotools' string of a ${c.width}x${c.height} mask gives its runs`, () => {
      expect(rleFromString(c.counts)).toEqual(rleCounts(Uint8Array.from(c.bits), c.width, c.height));
    });
  }
});
