// One prompt decoded on the current image: prompt tensors from the family, the decoder run
// (plain or replayed), and the telemetry the page reads.

import type { OnGpuOutputs } from './decoders';
import { EngineError } from './errors';
import type { ImageSession } from './imageSession';
import type { LoadedModel } from './loader';
import type { DecodeResult, Prompt } from './protocol';
import { sessionsCreated } from './runtime';

let decodes = 0; // decoder runs in this worker, for telemetry (a reused preview adds none)

/** drawsOnGpu: masks are drawn by the GPU renderer, so the decoder's own full-resolution masks
 * (SAM1) are not fetched: they only help the JavaScript drawing path. onGpu: sees a replay's
 * outputs on the GPU before they are read back (the WebGPU overlay draws them from there). */
export async function decodePrompt(
  model: LoadedModel,
  image: ImageSession,
  prompt: Prompt,
  drawsOnGpu: boolean,
  onGpu?: OnGpuOutputs,
): Promise<Omit<DecodeResult, 'frame' | 'area' | 'rendered'>> {
  if (!prompt.points.length && !prompt.box) throw new EngineError('a prompt needs at least one point or a box', 'prompt');
  const { family, decoders } = model;
  const prompts = family.promptFeeds(prompt, image.width, image.height);
  const wanted = family.outputs(prompt.multimask).slice(0, !drawsOnGpu && family.decoderUpsamples(image.width, image.height) ? 3 : 2);
  const t0 = performance.now();
  const out = await decoders.run('decoder', prompts, wanted, onGpu);
  decodes++;
  const decodeMs = performance.now() - t0;
  if (out.fullRes) image.rememberDecoded(out.lowRes, out.fullRes);
  return {
    lowRes: out.lowRes,
    scores: out.scores,
    numMasks: out.scores.length,
    decodeMs,
    captured: out.captured,
    captureFailure: decoders.captureFailure(),
    sessions: sessionsCreated(),
    gpuBuffers: decoders.gpuBuffers,
    decodes,
  };
}
