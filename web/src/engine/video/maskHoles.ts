// Small holes in mask logits filled, as official SAM2's video predictor fills them; mirrors
// src/sam2web/predict/mask_holes.py: the background (logits <= 0) is split into 8-connected
// regions, and every region of at most `maxArea` pixels gets the logit 0.1 (just foreground).

export const HOLE_LOGIT = Math.fround(0.1);

/** (height x width) logits -> a copy with every background region of at most maxArea pixels
 * set to 0.1. */
export function fillHolesInMaskScores(logits: Float32Array, width: number, height: number, maxArea: number): Float32Array {
  if (maxArea <= 0) throw new Error(`maxArea must be positive, got ${maxArea}`);
  const out = Float32Array.from(logits);
  const label = new Int32Array(width * height); // 0: unvisited or foreground
  const stack = new Int32Array(width * height);
  const region = new Int32Array(width * height);
  let next = 0;
  for (let start = 0; start < out.length; start++) {
    if (label[start] || !(out[start] <= 0)) continue;
    next++;
    label[start] = next;
    let top = 0,
      size = 0;
    stack[top++] = start;
    while (top) {
      const i = stack[--top];
      region[size++] = i;
      const y = (i / width) | 0,
        x = i - y * width;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if ((dx === 0 && dy === 0) || xx < 0 || xx >= width) continue;
          const j = yy * width + xx;
          if (!label[j] && out[j] <= 0) {
            label[j] = next;
            stack[top++] = j;
          }
        }
      }
    }
    if (size <= maxArea) for (let k = 0; k < size; k++) out[region[k]] = HOLE_LOGIT;
  }
  return out;
}
