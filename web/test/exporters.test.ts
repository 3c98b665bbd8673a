import { describe, expect, it } from 'vitest';
import { maskStats, rleCounts, rleToString, svgDocument, tracePolygons, xmlEscape } from '../src/engine/exporters';
import { reference } from './reference';

/** Even-odd fill of polygons at pixel centres: the mask they outline. */
function rasterize(polygons: number[][], width: number, height: number): Uint8Array {
  const bits = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const px = x + 0.5,
        py = y + 0.5;
      let inside = false;
      for (const p of polygons) {
        for (let i = 0, j = p.length - 2; i < p.length; j = i, i += 2) {
          const [xi, yi, xj, yj] = [p[i], p[i + 1], p[j], p[j + 1]];
          if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
      bits[y * width + x] = inside ? 1 : 0;
    }
  }
  return bits;
}

describe('COCO RLE matches pycocotools', () => {
  for (const c of reference.masks) {
    it(`${c.width}x${c.height} mask of area ${c.area}`, () => {
      const bits = Uint8Array.from(c.bits);
      expect(rleToString(rleCounts(bits, c.width, c.height))).toBe(c.counts);
      const { area, bbox } = maskStats(bits, c.width, c.height);
      expect(area).toBe(c.area);
      expect(bbox).toEqual(c.bbox);
    });
  }
});

describe('polygon outlines', () => {
  for (const c of reference.masks) {
    it(`outline the ${c.width}x${c.height} mask exactly (holes included)`, () => {
      const bits = Uint8Array.from(c.bits);
      expect(Array.from(rasterize(tracePolygons(bits, c.width, c.height), c.width, c.height))).toEqual(c.bits);
    });
  }
});

describe('SVG export', () => {
  const fromXml = (s: string) =>
    s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e] as string);
  const names = ['object 1', 'say "hi"', "it's <b> & co", 'same', 'same', 'tab\tand\u0001bell'];
  const svg = svgDocument(
    4,
    3,
    names.map((name) => ({ name, color: [10, 20, 30], polygons: [[0, 0, 2, 0, 2, 2, 0, 2]] })),
  );

  it('gives every path a unique, valid XML id whatever the names', () => {
    const ids = [...svg.matchAll(/ id="([^"]*)"/g)].map((m) => m[1]);
    expect(ids).toHaveLength(names.length);
    expect(new Set(ids).size).toBe(names.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z_][A-Za-z0-9._-]*$/);
  });

  it('keeps each name, escaped, in data-name and <title>', () => {
    const titles = [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => fromXml(m[1]));
    const dataNames = [...svg.matchAll(/ data-name="([^"]*)"/g)].map((m) => fromXml(m[1]));
    const expected = names.map((n) => n.replace('\u0001', '')); // XML 1.0 cannot hold U+0001
    expect(titles).toEqual(expected);
    expect(dataNames).toEqual(expected);
  });

  it('escapes every markup character', () => {
    expect(xmlEscape(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});
