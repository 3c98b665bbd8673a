// CVAT for video XML: what sam2web.formats.cvat.CvatVideoTracks writes (the expected texts were
// written by it: a mask of rows 1-2, columns 2-4 in an 8x6 frame; object 1 seen on frame 1 only,
// object 2 on frames 0 and 2; and a track never seen).
import { describe, expect, it } from 'vitest';
import { cvatVideoXml } from '../src/engine/datasetFormats';
import { centreOutlines } from '../src/engine/exporters';

const PYTHON_TWO_TRACKS =
  '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n      <name>sam2web</name>\n      <size>3</size>\n      <mode>interpolation</mode>\n      <labels>\n        <label>\n          <name>object 1</name>\n          <type>polygon</type>\n        </label>\n        <label>\n          <name>object 2</name>\n          <type>polygon</type>\n        </label>\n      </labels>\n    </task>\n  </meta>\n  <track id="0" label="object 1" source="semi-auto">\n    <polygon frame="1" keyframe="1" occluded="0" z_order="0" outside="0" points="2.00,1.00;4.00,1.00;4.00,2.00;2.00,2.00" />\n    <polygon frame="2" keyframe="1" occluded="0" z_order="0" outside="1" points="2.00,1.00;4.00,1.00;4.00,2.00;2.00,2.00" />\n  </track>\n  <track id="1" label="object 2" source="semi-auto">\n    <polygon frame="0" keyframe="1" occluded="0" z_order="0" outside="0" points="2.00,1.00;4.00,1.00;4.00,2.00;2.00,2.00" />\n    <polygon frame="1" keyframe="1" occluded="0" z_order="0" outside="1" points="2.00,1.00;4.00,1.00;4.00,2.00;2.00,2.00" />\n    <polygon frame="2" keyframe="1" occluded="0" z_order="0" outside="0" points="2.00,1.00;4.00,1.00;4.00,2.00;2.00,2.00" />\n  </track>\n</annotations>\n';
const PYTHON_EMPTY_TRACK =
  '<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n  <version>1.1</version>\n  <meta>\n    <task>\n      <name>sam2web</name>\n      <size>1</size>\n      <mode>interpolation</mode>\n      <labels>\n        <label>\n          <name>object 3</name>\n          <type>polygon</type>\n        </label>\n      </labels>\n    </task>\n  </meta>\n  <track id="0" label="object 3" source="semi-auto" />\n</annotations>\n';

describe('cvatVideoXml', () => {
  const bits = new Uint8Array(8 * 6);
  for (let y = 1; y < 3; y++) for (let x = 2; x < 5; x++) bits[y * 8 + x] = 1;
  const polygon = centreOutlines(bits, 8, 6)[0];

  it('writes what Python writes: outside="1" where absent, tracks start on their first shape', () => {
    const shapes = new Map([
      [
        2,
        new Map<number, number[] | null>([
          [0, polygon],
          [1, null],
          [2, polygon],
        ]),
      ],
      [
        1,
        new Map<number, number[] | null>([
          [0, null],
          [1, polygon],
          [2, null],
        ]),
      ],
    ]);
    expect(cvatVideoXml(shapes, 3)).toBe(PYTHON_TWO_TRACKS);
  });

  it('writes an object never seen as an empty track', () => {
    expect(cvatVideoXml(new Map([[3, new Map([[0, null]])]]), 1)).toBe(PYTHON_EMPTY_TRACK);
  });
});
