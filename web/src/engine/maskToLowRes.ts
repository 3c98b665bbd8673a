// A mask made elsewhere (an imported annotation) as the decoder's 256x256 low-res logits, in the
// model's geometry (families.ts): what the engine draws from those logits is the mask, as closely
// as 256x256 cells allow, and the decoder can refine it (its mask input) with new clicks.

import { LOW } from './families';
import { longestSideShape } from './imageOps';
import type { Mapping } from './maskRenderer';

/** Logits of a cell inside (+) or outside (-): well clear of 0, inside SAM2's clamp of 32. */
const CONFIDENT = 20;
const SAMPLES = 4; // per cell and axis

/** Per cell, the share of its area that is mask, as a logit: upsampled bilinearly, the 0 level
 * runs where half of the surroundings are mask, i.e. along the mask's edge. */
export function maskToLowRes(bits: Uint8Array, width: number, height: number, mapping: Mapping): Float32Array {
  // Cell (i, j) covers [x0, x1) x [y0, y1) of the image; beyond it (SAM1's padding) it is outside.
  let sx: number, sy: number;
  if (mapping.kind === 'squash') {
    sx = width / LOW;
    sy = height / LOW;
  } else {
    const [newH, newW] = longestSideShape(width, height, mapping.size);
    const cell = mapping.size / LOW; // input pixels per cell
    sx = (cell * width) / newW;
    sy = (cell * height) / newH;
  }
  const low = new Float32Array(LOW * LOW);
  for (let i = 0; i < LOW; i++) {
    for (let j = 0; j < LOW; j++) {
      let inside = 0;
      for (let a = 0; a < SAMPLES; a++) {
        const y = Math.floor((i + (a + 0.5) / SAMPLES) * sy);
        if (y >= height) continue;
        for (let b = 0; b < SAMPLES; b++) {
          const x = Math.floor((j + (b + 0.5) / SAMPLES) * sx);
          if (x < width && bits[y * width + x]) inside++;
        }
      }
      low[i * LOW + j] = CONFIDENT * ((2 * inside) / (SAMPLES * SAMPLES) - 1);
    }
  }
  return low;
}
