import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { everythingCoco, maskColor } from '../src/engine/everything';
import {
  areaOfRle,
  buildPointGrid,
  forEachRlePixel,
  generateCropBoxes,
  layerSides,
  maskBox,
  nearCropEdge,
  nms,
  stabilityScore,
  uncroppedRle,
  type Xyxy,
} from '../src/engine/everythingAmg';
import { Workspace } from '../src/ui/state';

// Written by fixtures/make_everything_fixtures.py from the Python generator's arithmetic.
const ref = JSON.parse(readFileSync(new URL('./fixtures/everything.json', import.meta.url), 'utf8')) as {
  grids: Record<string, number[]>;
  crops: { height: number; width: number; layers: number; boxes: number[][]; idx: number[] }[];
  nms: { boxes: number[][]; scores: number[]; threshold: number; keep: number[] }[];
  masks: {
    height: number;
    width: number;
    logits: number[];
    stability: number;
    box: number[];
    crop: Xyxy;
    full: [number, number];
    counts: number[];
    near_edge: boolean;
  }[];
};

describe('segment everything arithmetic equals the Python generator', () => {
  it('point grids', () => {
    for (const [n, grid] of Object.entries(ref.grids)) expect(Array.from(buildPointGrid(Number(n)))).toEqual(grid);
    expect(layerSides(32, 2, 2)).toEqual([32, 16, 8]);
    expect(layerSides(3, 2, 2)).toEqual([3, 1, 0]);
  });
  it('crop boxes', () => {
    for (const c of ref.crops) {
      const { boxes, layers } = generateCropBoxes(c.width, c.height, c.layers, 512 / 1500);
      expect(boxes).toEqual(c.boxes);
      expect(layers).toEqual(c.idx);
    }
  });
  it('greedy NMS (ties in input order, zero-area boxes suppress nothing)', () => {
    for (const c of ref.nms) expect(nms(c.boxes, c.scores, c.threshold)).toEqual(c.keep);
    expect(
      nms(
        [
          [0, 0, 0, 0],
          [0, 0, 0, 0],
          [0, 0, 10, 10],
          [0, 0, 10, 10],
        ],
        [1, 1, 1, 1],
        0.5,
      ),
    ).toEqual([0, 1, 2]);
  });
  it('stability, boxes, crop edges and uncropped RLE', () => {
    for (const m of ref.masks) {
      const logits = Float32Array.from(m.logits);
      expect(Math.fround(stabilityScore(logits, 0.3, 0.7))).toBe(Math.fround(m.stability));
      const bits = Uint8Array.from(logits, (v) => (v > Math.fround(0.5) ? 1 : 0));
      const box = maskBox(bits, m.width, m.height);
      expect(box).toEqual(m.box);
      const [fh, fw] = m.full;
      expect(nearCropEdge(box, m.crop, [0, 0, fw, fh], 2)).toBe(m.near_edge);
      const counts = uncroppedRle(bits, m.width, m.height, m.crop[0], m.crop[1], fw, fh);
      expect(counts).toEqual(m.counts);
      // ...and back: the same pixels, the same area.
      const back = new Uint8Array(fw * fh);
      forEachRlePixel(counts, fw, fh, (i) => {
        back[i] = 1;
      });
      let same = true;
      for (let y = 0; y < fh; y++) {
        for (let x = 0; x < fw; x++) {
          const inCrop = x >= m.crop[0] && x < m.crop[2] && y >= m.crop[1] && y < m.crop[3];
          const want = inCrop ? bits[(y - m.crop[1]) * m.width + (x - m.crop[0])] : 0;
          if (back[y * fw + x] !== want) same = false;
        }
      }
      expect(same).toBe(true);
      expect(areaOfRle(counts)).toBe(bits.reduce((a, b) => a + b, 0));
    }
  });
  it('an empty mask has the box [0, 0, 0, 0] and a NaN stability', () => {
    expect(maskBox(new Uint8Array(12), 4, 3)).toEqual([0, 0, 0, 0]);
    expect(stabilityScore(new Float32Array(4).fill(-9), 0, 1)).toBeNaN();
  });
});

describe('segment everything outputs', () => {
  it('COCO JSON with COCO boxes and the generator fields', () => {
    const doc = JSON.parse(
      everythingCoco(
        {
          width: 6,
          height: 4,
          masks: [
            {
              area: 4,
              bbox: [1, 1, 1, 1],
              predictedIou: 0.9,
              stabilityScore: 0.97,
              point: [1.5, 1.5],
              cropBox: [0, 0, 6, 4],
              rle: '5202;',
            },
            { area: 0, bbox: [0, 0, 0, 0], predictedIou: 0.8, stabilityScore: 0.96, point: [3, 2], cropBox: [0, 0, 6, 4], rle: 'h0' },
          ],
        },
        'a.png',
        'm',
      ),
    );
    expect(doc.images).toEqual([{ id: 1, file_name: 'a.png', width: 6, height: 4 }]);
    expect(doc.annotations[0]).toMatchObject({ id: 1, bbox: [1, 1, 2, 2], area: 4, iscrowd: 0, point_coords: [[1.5, 1.5]] });
    expect(doc.annotations[0].segmentation).toEqual({ size: [4, 6], counts: '5202;' });
    expect(doc.annotations[1].bbox).toEqual([0, 0, 0, 0]);
  });
  it('mask colours differ from their neighbours', () => {
    const colours = Array.from({ length: 50 }, (_, i) => maskColor(i).join());
    for (let i = 1; i < colours.length; i++) expect(colours[i]).not.toBe(colours[i - 1]);
  });
  it('an adopted mask is an object with nothing left to decode, undoable', () => {
    const w = new Workspace();
    const low = [new Float32Array(4).fill(1), new Float32Array(4).fill(2)];
    const o = w.adopt([10, 20, 1], low, [0.5, 0.9], 0);
    expect(w.objects).toHaveLength(1); // the empty first object took it
    expect(o.points).toEqual([[10, 20, 1]]);
    expect(o.chosen).toBe(0);
    expect(w.stale()).toEqual([]);
    expect(w.maskOf(o.id, o.promptRev)).toBe(low[0]);
    const second = w.adopt([1, 2, 1], low, [0.5, 0.9], 1);
    expect(w.objects).toHaveLength(2);
    expect(w.active.id).toBe(second.id);
    w.undo();
    expect(w.objects).toHaveLength(1);
  });
});
