// A model's tracking graphs, loaded in the worker: the files of its video capability (SAM2:
// encoder, memory attention, memory encoder, video decoder and constants) or, for a SAM1-family
// model, its image graphs (tracked frame by frame); fetched through the OPFS cache and verified
// like the image model's (loader.ts), one onnxruntime-web session per graph. Mirrors
// src/sam2web/predict/sessions.py's `run`.

import type { Backend } from '../backend';
import { EngineError, throwIfCancelled } from '../errors';
import { familyOf } from '../families';
import { GpuPreprocess } from '../gpuPreprocess';
import { parseManifest } from '../manifest';
import { fetchModelFile } from '../modelCache';
import type { LoadProgress, ModelInfo } from '../protocol';
import { createSession, type InferenceSession, type Tensor } from '../runtime';
import { FrameByFramePredictor } from './frameByFrame';
import { GpuMemories } from './gpuMemories';
import { framePreprocessing } from './preprocessFrame';
import { StageClock } from './stageClock';
import type { Tracking, VideoSessions } from './types';
import { DEFAULT_FILL_HOLE_AREA, VideoPredictor } from './video';

export const SAM2_VIDEO_ROLES = ['encoder', 'memory_attention', 'memory_encoder', 'video_decoder'] as const;
const CONSTANTS_ROLE = 'video_constants';
const ON_GPU = new Set(['encoder', 'memory_encoder', 'memory_attention']);

export interface VideoModel {
  model: ModelInfo;
  predictor: Tracking;
  /** WebGPU: where the memory bank's memories live (null: in worker memory). */
  gpuMemories: GpuMemories | null;
  /** Where each frame's time goes (the predictor's graphs, frames, preprocessing). */
  clock: StageClock;
  /** WebGPU: resolves once the GPU has done the work submitted so far (null on WASM). */
  gpuDone: (() => Promise<void>) | null;
  /** Low-res logits -> logits at the video's resolution (the family's own upsampling). */
  upsample(low: Float32Array, width: number, height: number): Float32Array;
  release(): void;
}

class Sessions implements VideoSessions {
  constructor(
    private readonly sessions: Record<string, InferenceSession>,
    readonly clock: StageClock,
  ) {}

  run(role: string, feeds: Record<string, Tensor>, outputs?: string[]): Promise<Record<string, Tensor>> {
    const session = this.sessions[role];
    return this.clock.run(role, async () => (await (outputs ? session.run(feeds, outputs) : session.run(feeds))) as Record<string, Tensor>);
  }

  release(): void {
    for (const s of Object.values(this.sessions)) void s.release();
  }
}

export async function loadVideoModel(
  backend: Backend,
  info: ModelInfo,
  onProgress: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<VideoModel> {
  backend.check();
  const manifest = parseManifest(info.manifest);
  const model: ModelInfo = { ...info, manifest };
  const family = familyOf(model);
  const sam2 = model.family === 'sam2';
  if (sam2 && !manifest.capabilities.includes('video')) {
    throw new EngineError(
      `model ${model.id} has no video graphs (it offers ${manifest.capabilities.join(', ')}); re-export it with sam2web >= 0.2 to track with SAM2 memory`,
      'bundle',
    );
  }
  const roles: string[] = sam2 ? [...SAM2_VIDEO_ROLES, CONSTANTS_ROLE] : ['encoder', 'decoder'];
  const bytes: Record<string, ArrayBuffer> = {};
  for (const role of roles) {
    const url = model.urls[role];
    const entry = manifest.files[role];
    if (!url || !entry) throw new EngineError(`model ${model.id}: the server gives no ${role} file`, 'bundle');
    bytes[role] = await fetchModelFile({ url, bytes: entry.bytes, sha256: entry.sha256 }, role, onProgress, signal);
  }
  throwIfCancelled(signal, `loading ${model.id}`);
  onProgress({ phase: 'compile', file: model.id, loaded: 0, total: 1, bytesPerSecond: 0, fromCache: true });
  const made: Record<string, InferenceSession> = {};
  const clock = new StageClock();
  const sessions = new Sessions(made, clock);
  try {
    // One session at a time: onnxruntime-web's WebGPU EP refuses to create two at once. On
    // WebGPU the encoder's features, the memories and the memory-conditioned features stay on the
    // GPU (the next graph reads them there); the decoder's outputs come to the worker.
    for (const role of roles.filter((r) => r !== CONSTANTS_ROLE)) {
      try {
        made[role] = await createSession(new Uint8Array(bytes[role]), backend.sessionOptions(ON_GPU.has(role)));
      } catch (e) {
        throw new EngineError(`onnxruntime-web (${backend.kind}) cannot run ${model.id} (${role}): ${(e as Error).message}`, 'session');
      }
    }
  } catch (e) {
    sessions.release();
    throw e;
  }
  const threshold = manifest.mask_threshold ?? 0;
  const device = backend.kind === 'webgpu' ? backend.device : null;
  const gpuMemories = sam2 && device ? new GpuMemories(device) : null;
  // SAM2 video frames: squashed, bicubic (official preprocess_frame); SAM1: the family's own.
  const recipe = sam2 ? framePreprocessing(manifest.input_size, manifest.mean, manifest.std) : family.framePreprocessing;
  const gpuPreprocess = device && recipe ? new GpuPreprocess(device, recipe) : null;
  const predictor: Tracking = sam2
    ? new VideoPredictor(
        sessions,
        JSON.parse(new TextDecoder().decode(bytes[CONSTANTS_ROLE])),
        manifest.input_size,
        manifest.mean,
        manifest.std,
        threshold,
        gpuMemories,
        DEFAULT_FILL_HOLE_AREA,
        gpuPreprocess,
      )
    : new FrameByFramePredictor(sessions, family, threshold, gpuPreprocess);
  return {
    model,
    predictor,
    gpuMemories,
    clock,
    gpuDone: device ? () => device.queue.onSubmittedWorkDone() : null,
    upsample: (low, w, h) => family.upsample(low, w, h),
    release: () => {
      sessions.release();
      gpuPreprocess?.dispose();
    },
  };
}
