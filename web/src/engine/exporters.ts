// Mask exports: COCO run-length encoding and SVG outlines. Pure functions over a binary mask.

/** COCO RLE counts (column-major runs, starting with background), as pycocotools computes. */
export function rleCounts(bits: Uint8Array, width: number, height: number): number[] {
  const counts: number[] = [];
  let current = 0,
    run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = bits[y * width + x];
      if (v !== current) {
        counts.push(run);
        run = 0;
        current = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** pycocotools' compact string form of RLE counts (rleToString). */
export function rleToString(counts: number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i];
    if (i > 2) x -= counts[i - 2];
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

export function maskStats(bits: Uint8Array, width: number, height: number) {
  let area = 0,
    x0 = width,
    y0 = height,
    x1 = -1,
    y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!bits[y * width + x]) continue;
      area++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const bbox = area ? [x0, y0, x1 - x0 + 1, y1 - y0 + 1] : [0, 0, 0, 0];
  return { area, bbox };
}

/**
 * Outlines of the mask along pixel edges: one closed polygon per boundary (outer and holes),
 * exact to the pixel. Each pixel side that borders the outside is a directed edge (interior on
 * its right); edges are chained into loops and collinear vertices dropped.
 */
export function tracePolygons(bits: Uint8Array, width: number, height: number): number[][] {
  const W = width + 1;
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && bits[y * width + x] === 1;
  // Up to two outgoing edges per vertex (two only where masks touch diagonally).
  const out0 = new Map<number, number>(),
    out1 = new Map<number, number>();
  const addEdge = (ax: number, ay: number, bx: number, by: number) => {
    const a = ay * W + ax,
      b = by * W + bx;
    if (out0.has(a)) out1.set(a, b);
    else out0.set(a, b);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!bits[y * width + x]) continue;
      if (!inside(x, y - 1)) addEdge(x, y, x + 1, y);
      if (!inside(x + 1, y)) addEdge(x + 1, y, x + 1, y + 1);
      if (!inside(x, y + 1)) addEdge(x + 1, y + 1, x, y + 1);
      if (!inside(x - 1, y)) addEdge(x, y + 1, x, y);
    }
  }
  // Where two mask pixels touch only at a vertex (two edges leave it), the right turn: the outline
  // keeps to the pixel it came along, so each 4-connected part gets its own simple outline,
  // whichever edge reached the vertex first (as sam2web.formats.polygons does).
  const rightTurn = (from: number, v: number, to: number) => {
    const dx = (v % W) - (from % W),
      dy = Math.floor(v / W) - Math.floor(from / W);
    const ox = (to % W) - (v % W),
      oy = Math.floor(to / W) - Math.floor(v / W);
    return dx * oy - dy * ox > 0;
  };
  const take = (v: number, from: number | undefined): number | undefined => {
    const a = out0.get(v);
    if (a === undefined) return undefined;
    const b = out1.get(v);
    if (b === undefined) {
      out0.delete(v);
      return a;
    }
    out1.delete(v);
    if (from !== undefined && rightTurn(from, v, b)) return b; // a stays as the one left
    out0.set(v, b);
    return a;
  };
  const polygons: number[][] = [];
  while (out0.size) {
    const start = out0.keys().next().value as number;
    const loop: number[] = [start];
    let v = take(start, undefined)!;
    while (v !== start) {
      loop.push(v);
      const next = take(v, loop[loop.length - 2]);
      if (next === undefined) break;
      v = next;
    }
    // Keep corners only.
    const pts: number[] = [];
    const n = loop.length;
    for (let i = 0; i < n; i++) {
      const p = loop[(i + n - 1) % n],
        c = loop[i],
        q = loop[(i + 1) % n];
      const dx1 = (c % W) - (p % W),
        dy1 = Math.floor(c / W) - Math.floor(p / W);
      const dx2 = (q % W) - (c % W),
        dy2 = Math.floor(q / W) - Math.floor(c / W);
      if (dx1 !== dx2 || dy1 !== dy2) pts.push(c % W, Math.floor(c / W));
    }
    if (pts.length >= 6) polygons.push(pts);
  }
  return polygons;
}

/** Text made safe inside XML character data and quoted attribute values (characters XML 1.0
 * forbids, such as most control characters, are dropped). */
export function xmlEscape(text: string): string {
  let allowed = '';
  for (const ch of text) {
    const c = ch.codePointAt(0) as number;
    if (c === 0x9 || c === 0xa || c === 0xd || (c >= 0x20 && c !== 0xfffe && c !== 0xffff)) allowed += ch;
  }
  return allowed.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

/** One path per object. Object names are free text (spaces, quotes, anything): they go into a
 * <title> and a data-name attribute, escaped; the id is generated (`object-1`, `object-2`, ...),
 * a valid XML name and unique in the document whatever the names are. */
export function svgDocument(
  width: number,
  height: number,
  objects: { name: string; color: [number, number, number]; polygons: number[][] }[],
): string {
  const paths = objects.map((o, i) => {
    const d = o.polygons
      .map((p) => {
        let s = `M${p[0]} ${p[1]}`;
        for (let k = 2; k < p.length; k += 2) s += `L${p[k]} ${p[k + 1]}`;
        return `${s}Z`;
      })
      .join('');
    const [r, g, b] = o.color.map((c) => Math.round(Math.min(255, Math.max(0, c))));
    const name = xmlEscape(o.name);
    return (
      `  <path id="object-${i + 1}" data-name="${name}" d="${d}" fill="rgb(${r},${g},${b})" fill-opacity="0.5" ` +
      `fill-rule="evenodd" stroke="rgb(${r},${g},${b})"><title>${name}</title></path>`
    );
  });
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}">\n${paths.join('\n')}\n</svg>\n`
  );
}

/** Twice the shoelace area with y down: positive for outer outlines, negative for holes. */
function signedArea2(p: number[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i += 2) {
    const j = (i + 2) % p.length;
    s += p[i] * p[j + 1] - p[j] * p[i + 1];
  }
  return s;
}

/**
 * One polygon per connected part of the mask (holes filled, largest first) through the centres
 * of its boundary pixels, in pixel coordinates (pixel centres on integers): what the polygon
 * dataset formats hold, and what their tools' rasterisers (PIL, OpenCV: outline included) turn
 * back into the mask. The same as sam2web.formats.polygons.outer_polygons in Python.
 */
export function centreOutlines(bits: Uint8Array, width: number, height: number): number[][] {
  const outer = tracePolygons(bits, width, height).filter((p) => signedArea2(p) > 0);
  outer.sort((a, b) => signedArea2(b) - signedArea2(a));
  return outer.map((loop) => {
    const n = loop.length / 2;
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = (i + n - 1) % n,
        q = (i + 1) % n;
      const [px, py, cx, cy, qx, qy] = [loop[2 * p], loop[2 * p + 1], loop[2 * i], loop[2 * i + 1], loop[2 * q], loop[2 * q + 1]];
      // Half a pixel along both edges' inward (right-hand) normals, then to centre coordinates.
      const d1x = Math.sign(cx - px),
        d1y = Math.sign(cy - py),
        d2x = Math.sign(qx - cx),
        d2y = Math.sign(qy - cy);
      const x = cx + 0.5 * (-d1y - d2y) - 0.5,
        y = cy + 0.5 * (d1x + d2x) - 0.5;
      const k = out.length;
      if (!k || out[k - 2] !== x || out[k - 1] !== y) out.push(x, y);
    }
    if (out.length > 2 && out[0] === out[out.length - 2] && out[1] === out[out.length - 1]) out.length -= 2;
    // A part one pixel wide collapses to a line or a point: still three vertices.
    while (out.length < 6) out.push(out[out.length - 2], out[out.length - 1]);
    return out;
  });
}
