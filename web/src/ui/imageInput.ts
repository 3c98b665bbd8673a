// Checks a user's file before decoding it: the type by its first bytes (not its name), its size,
// and decodes it whole (no crop), oriented as its EXIF says.

export const MAX_PIXELS = 100_000_000;

const SIGNATURES: [string, (b: Uint8Array) => boolean][] = [
  ['PNG', (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47],
  ['JPEG', (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff],
  ['GIF', (b) => ascii(b, 0, 4) === 'GIF8'],
  ['WebP', (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP'],
  ['BMP', (b) => ascii(b, 0, 2) === 'BM'],
  ['AVIF', (b) => ascii(b, 4, 8) === 'ftyp' && ['avif', 'avis'].includes(ascii(b, 8, 12))],
];

const KNOWN_OTHERS: [string, (b: Uint8Array) => boolean][] = [
  ['PDF document', (b) => ascii(b, 0, 5) === '%PDF-'],
  ['ZIP archive', (b) => b[0] === 0x50 && b[1] === 0x4b],
  ['TIFF image (not shown by browsers)', (b) => ascii(b, 0, 2) === 'II' || ascii(b, 0, 2) === 'MM'],
  ['HEIC image (not shown by most browsers)', (b) => ascii(b, 4, 8) === 'ftyp' && /hei|mif/.test(ascii(b, 8, 12))],
  ['SVG or other text', (b) => b.slice(0, 64).every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))],
];

function ascii(b: Uint8Array, start: number, end: number): string {
  return String.fromCharCode(...b.slice(start, end));
}

export class ImageInputError extends Error {}

/** Decode the whole image as stored (EXIF-oriented, unpremultiplied, no colour conversion),
 * matching what Pillow hands the Python predictor. */
export function decodeBitmap(file: Blob): Promise<ImageBitmap> {
  return createImageBitmap(file, {
    imageOrientation: 'from-image',
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'none',
  });
}

export async function decodeImageFile(file: Blob, name: string): Promise<ImageBitmap> {
  if (file.size === 0) throw new ImageInputError(`“${name}” is empty (0 bytes).`);
  const head = new Uint8Array(await file.slice(0, 64).arrayBuffer());
  const kind = SIGNATURES.find(([, test]) => test(head));
  if (!kind) {
    const other = KNOWN_OTHERS.find(([, test]) => test(head));
    throw new ImageInputError(
      `“${name}” is not a supported image${other ? ` (it looks like a ${other[0]})` : ''}. Use PNG, JPEG, WebP, GIF, BMP or AVIF.`,
    );
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await decodeBitmap(file);
  } catch {
    throw new ImageInputError(`“${name}” could not be decoded: the ${kind[0]} file is corrupt or truncated.`);
  }
  if (bitmap.width === 0 || bitmap.height === 0) {
    bitmap.close();
    throw new ImageInputError(`“${name}” has zero size.`);
  }
  if (bitmap.width * bitmap.height > MAX_PIXELS) {
    const mp = ((bitmap.width * bitmap.height) / 1e6).toFixed(0);
    bitmap.close();
    throw new ImageInputError(`“${name}” is ${mp} megapixels; the limit is ${MAX_PIXELS / 1e6}.`);
  }
  return bitmap;
}
