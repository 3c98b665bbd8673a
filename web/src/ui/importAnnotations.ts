// Annotations from other tools (or earlier sessions) back into the app: COCO instance JSON (RLE,
// compact or not, or polygons) and LabelMe JSON, as named masks of the current image; the
// controller makes each an object to refine. Polygons use pixel-centre coordinates (LabelMe,
// sam2web's exports); a COCO file with several images gives the one named like this image.

export interface ImportedMask {
  name: string;
  bits: Uint8Array;
}

type Json = Record<string, unknown>;

class ImportError extends Error {}

/** pycocotools' compact RLE string -> run lengths (its rleFrString). */
export function rleFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0,
      k = 0,
      more = true;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2];
    counts.push(x);
  }
  return counts;
}

function rleBits(counts: number[], width: number, height: number): Uint8Array {
  const bits = new Uint8Array(width * height);
  let i = 0;
  counts.forEach((n, k) => {
    if (n < 0 || i + n > width * height) throw new ImportError('its RLE counts do not fit the image');
    if (k % 2) {
      // Column-major runs.
      for (let q = i; q < i + n; q++) bits[(q % height) * width + Math.floor(q / height)] = 1;
    }
    i += n;
  });
  if (i !== width * height) throw new ImportError('its RLE counts do not cover the image');
  return bits;
}

/** Polygons (flat [x0, y0, ...], pixel centres on integers) filled, outline included. */
function polygonBits(polygons: number[][], width: number, height: number): Uint8Array {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ImportError('this browser cannot draw polygons (no 2D canvas)');
  ctx.fillStyle = ctx.strokeStyle = '#fff';
  ctx.lineWidth = 1;
  for (const p of polygons) {
    if (p.length < 6 || p.some((v) => !Number.isFinite(v))) throw new ImportError('a polygon needs at least three x, y points');
    ctx.beginPath();
    for (let k = 0; k < p.length; k += 2) ctx.lineTo(p[k] + 0.5, p[k + 1] + 0.5);
    ctx.closePath();
    ctx.fill();
    ctx.stroke();
  }
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const bits = new Uint8Array(width * height);
  for (let i = 0; i < bits.length; i++) bits[i] = rgba[i * 4 + 3] >= 128 ? 1 : 0;
  return bits;
}

function checkSize(w: unknown, h: unknown, width: number, height: number, what: string) {
  if (w !== width || h !== height) throw new ImportError(`${what} is for a ${w}x${h} image; this image is ${width}x${height}`);
}

function fromCoco(doc: Json, imageName: string, width: number, height: number): ImportedMask[] {
  const images = doc.images as Json[];
  const base = (n: unknown) => String(n).replace(/^.*[\\/]/, '');
  const image = images.length === 1 ? images[0] : images.find((im) => base(im.file_name) === base(imageName));
  if (!image) throw new ImportError(`none of its ${images.length} images is named ${imageName}`);
  checkSize(image.width, image.height, width, height, `its image ${base(image.file_name)}`);
  const names = new Map(((doc.categories as Json[]) ?? []).map((c) => [c.id, String(c.name)]));
  return ((doc.annotations as Json[]) ?? [])
    .filter((a) => a.image_id === image.id)
    .map((a) => {
      const seg = a.segmentation as Json | number[][];
      let bits: Uint8Array;
      if (Array.isArray(seg)) bits = polygonBits(seg, width, height);
      else {
        checkSize((seg.size as number[])?.[1], (seg.size as number[])?.[0], width, height, 'an RLE mask');
        bits = rleBits(typeof seg.counts === 'string' ? rleFromString(seg.counts) : (seg.counts as number[]), width, height);
      }
      return { name: String(a.sam2web_name ?? names.get(a.category_id) ?? 'object'), bits };
    });
}

function fromLabelme(doc: Json, width: number, height: number): ImportedMask[] {
  checkSize(doc.imageWidth, doc.imageHeight, width, height, 'this LabelMe file');
  const groups = new Map<string, { name: string; polygons: number[][] }>();
  (doc.shapes as Json[]).forEach((shape, i) => {
    let pts = shape.points as number[][];
    if (shape.shape_type === 'rectangle') {
      const [[x0, y0], [x1, y1]] = pts;
      pts = [
        [x0, y0],
        [x1, y0],
        [x1, y1],
        [x0, y1],
      ];
    } else if ((shape.shape_type ?? 'polygon') !== 'polygon') {
      throw new ImportError(`shape ${i} is a ${shape.shape_type}: only polygons and rectangles become masks`);
    }
    const key = shape.group_id == null ? `#${i}` : `${shape.label}\u0000${shape.group_id}`;
    const group = groups.get(key) ?? { name: String(shape.label), polygons: [] };
    group.polygons.push(pts.flat());
    groups.set(key, group);
  });
  return [...groups.values()].map((g) => ({ name: g.name, bits: polygonBits(g.polygons, width, height) }));
}

/** The masks of `text` (a COCO or LabelMe file) for this image, or an Error saying why not. */
export function parseAnnotations(text: string, imageName: string, width: number, height: number): ImportedMask[] {
  let doc: Json;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error('not a JSON file');
  }
  try {
    if (doc && Array.isArray(doc.shapes)) return fromLabelme(doc, width, height);
    if (doc && Array.isArray(doc.images)) return fromCoco(doc, imageName, width, height);
  } catch (e) {
    if (e instanceof ImportError) throw new Error(e.message);
    throw new Error(`not a valid annotation file (${(e as Error).message})`);
  }
  throw new Error('neither COCO (images, annotations) nor LabelMe (shapes)');
}
