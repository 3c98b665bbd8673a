// What differs between model families (the manifest's `family`), mirroring
// src/sam2web/predict/families.py: preprocessing, the encoder's and decoder's tensors, and how
// low-res logits become logits at the image's resolution.
//   sam2: squash to 1024x1024; the decoder appends SAM2's padding point itself; 3 candidates or 1.
//   sam1: longest side to 1024 and pad; SAM1's ONNX decoder with orig_im_size, one mask, and the
//         padding point appended here when there is no box.

import type { FramePreprocessing } from './gpuPreprocess';
import {
  fixedPointTaps,
  longestSideShape,
  longestSideTable,
  preprocessLongestSide,
  preprocessSquash,
  upsampleLogits,
  upsampleLogitsLongestSide,
} from './imageOps';
import type { Mapping } from './maskRenderer';
import type { ModelInfo, Prompt } from './protocol';
import { f32, type Tensor } from './runtime';

export const LOW = 256;

export interface Family {
  /** The encoder's input feed for an RGBA image. */
  encoderFeeds(rgba: Uint8ClampedArray, width: number, height: number): Record<string, Tensor>;
  /** The encoder's input's name. */
  encoderInput: string;
  /** The same preprocessing as integer resampling + a value table, which the GPU reproduces bit
   * for bit (gpuPreprocess.ts); null where the resize is in floats (SAM2's image squash). */
  framePreprocessing: FramePreprocessing | null;
  /** The encoder's outputs under the names the decoder reads them by. */
  features(outputs: Record<string, Tensor>): Record<string, Tensor>;
  /** Prompt tensors (coordinates in the model's input space) for the decoder. */
  promptFeeds(prompt: Prompt, width: number, height: number): Record<string, Tensor>;
  /** The decoder outputs to fetch: [low-res logits, scores, (logits at the image's size)]. */
  outputs(multimask: boolean): string[];
  /** Whether the decoder's third output (logits at the image's size) is valid for this image. */
  decoderUpsamples(width: number, height: number): boolean;
  /** SAM2 clamps the low-res logits it keeps for refinement; SAM1 does not. */
  clamp: number | null;
  upsample(low: Float32Array, width: number, height: number): Float32Array;
  /** The same geometry for the GPU mask renderer. */
  mapping: Mapping;
  /** Whether its decoder can be graph-captured (sam2web's SAM2 export: batch 1, `num_points`
   * the only free axis, every node on the WebGPU EP). */
  capturable: boolean;
}

function promptTensors(prompt: Prompt, sx: number, sy: number, padding: boolean) {
  const coords: number[] = [],
    labels: number[] = [];
  // Official layout: box corners (labels 2 and 3) first, then the clicks.
  if (prompt.box) {
    const [x0, y0, x1, y1] = prompt.box;
    coords.push(x0 * sx, y0 * sy, x1 * sx, y1 * sy);
    labels.push(2, 3);
  }
  for (const [x, y, label] of prompt.points) {
    coords.push(x * sx, y * sy);
    labels.push(label);
  }
  if (!labels.length) throw new Error('a prompt needs at least one point or a box');
  if (padding && !prompt.box) {
    coords.push(0, 0);
    labels.push(-1);
  }
  const n = labels.length;
  return {
    point_coords: f32(Float32Array.from(coords), [1, n, 2]),
    point_labels: f32(Float32Array.from(labels), [1, n]),
    mask_input: f32(prompt.maskInput ?? new Float32Array(LOW * LOW), [1, 1, LOW, LOW]),
    has_mask_input: f32(Float32Array.of(prompt.maskInput ? 1 : 0), [1]),
  };
}

function sam2(m: ModelInfo['manifest']): Family {
  const size = m.input_size;
  return {
    encoderFeeds: (rgba, w, h) => ({
      image: f32(preprocessSquash(rgba, w, h, size, m.mean, m.std), [1, 3, size, size]),
    }),
    encoderInput: 'image',
    framePreprocessing: null,
    features: (o) => ({ image_embed: o.image_embed, high_res_feats_0: o.high_res_feats_0, high_res_feats_1: o.high_res_feats_1 }),
    promptFeeds: (p, w, h) => promptTensors(p, size / w, size / h, false),
    outputs: (multimask) => (multimask ? ['masks', 'iou_predictions'] : ['single_mask', 'single_iou']),
    decoderUpsamples: () => false,
    clamp: 32,
    upsample: (low, w, h) => upsampleLogits(low, LOW, LOW, w, h),
    mapping: { kind: 'squash' },
    capturable: true,
  };
}

function sam1(m: ModelInfo['manifest']): Family {
  const size = m.input_size;
  // The graph's own rounding of the resized shape (no 1-px floor): usable only when neither side is 0.
  const decoderUpsamples = (w: number, h: number) => {
    const scale = size / Math.max(w, h);
    return Math.trunc(h * scale + 0.5) > 0 && Math.trunc(w * scale + 0.5) > 0;
  };
  const io = (m.io ?? {}) as { encoder_input?: string; encoder_output?: string };
  const input = io.encoder_input ?? 'input',
    output = io.encoder_output ?? 'output';
  return {
    encoderFeeds: (rgba, w, h) => ({
      [input]: f32(preprocessLongestSide(rgba, w, h, size, m.mean, m.std), [1, 3, size, size]),
    }),
    encoderInput: input,
    framePreprocessing: {
      size,
      resized: (w, h) => {
        const [newH, newW] = longestSideShape(w, h, size);
        return [newW, newH];
      },
      taps: (inSize, outSize) => fixedPointTaps(inSize, outSize),
      table: longestSideTable(m.mean, m.std),
    },
    features: (o) => ({ image_embeddings: o[output] }),
    promptFeeds: (p, w, h) => {
      // Per axis, to the resized (unpadded) image, like ResizeLongestSide.apply_coords.
      const [newH, newW] = longestSideShape(w, h, size);
      // orig_im_size drives only the graph's own postprocess_masks (its `masks` output), which
      // ONNX Runtime runs even when that output is not fetched. Where the official rounding gives
      // a 0-px side in-graph (a 20000x1 strip) it would fail: the resized shape (what the Python
      // predictor always feeds) is valid everywhere, and `masks` is then not used.
      const origImSize = decoderUpsamples(w, h) ? [h, w] : [newH, newW];
      return {
        ...promptTensors(p, newW / w, newH / h, true),
        orig_im_size: f32(Float32Array.from(origImSize), [2]),
      };
    },
    // SAM1's decoder also upsamples in-graph (the official postprocess_masks): where masks are
    // drawn in JavaScript, fetching that costs less than redoing it through a 1024x1024 step.
    outputs: () => ['low_res_masks', 'iou_predictions', 'masks'],
    decoderUpsamples,
    clamp: null,
    upsample: (low, w, h) => upsampleLogitsLongestSide(low, LOW, LOW, w, h, size),
    mapping: { kind: 'longest-side', size },
    capturable: false,
  };
}

export function familyOf(model: ModelInfo): Family {
  if (model.family === 'sam2') return sam2(model.manifest);
  if (model.family === 'sam1') return sam1(model.manifest);
  throw new Error(`${model.id} is of family '${model.family}', which this engine cannot run`);
}
