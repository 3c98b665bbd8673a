// Loading a model: its files fetched (or read from the OPFS cache) and verified, then one
// onnxruntime-web session per graph role, then a warm-up run where the GPU compiles on first use.

import type { Backend } from './backend';
import { Decoders, type Schedule } from './decoders';
import { EngineError, throwIfCancelled } from './errors';
import { type Family, familyOf } from './families';
import { GpuPreprocess } from './gpuPreprocess';
import { CAPABILITY_ROLES, parseManifest } from './manifest';
import { fetchModelFile } from './modelCache';
import { modelFile } from './modelFiles';
import type { LoadProgress, LoadResult, ModelInfo } from './protocol';
import { createSession, elementCount, f32, type InferenceSession, type Tensor } from './runtime';

export interface LoadedModel {
  model: ModelInfo;
  family: Family;
  encoder: InferenceSession;
  /** WebGPU, where the family's resize is integer math: images preprocessed on the GPU. */
  gpuPreprocess: GpuPreprocess | null;
  decoders: Decoders;
  release(): void;
}

export async function loadModel(
  backend: Backend,
  info: ModelInfo,
  schedule: Schedule,
  onProgress: (p: LoadProgress) => void,
  signal?: AbortSignal,
): Promise<{ loaded: LoadedModel; result: LoadResult }> {
  backend.check();
  const manifest = parseManifest(info.manifest);
  const model: ModelInfo = { ...info, manifest };
  let family: Family;
  try {
    family = familyOf(model);
  } catch (e) {
    throw new EngineError((e as Error).message, 'bundle');
  }
  if (backend.kind === 'webgpu' && manifest.precision === 'fp16' && !backend.info.shaderF16) {
    // Without shader-f16 onnxruntime-web has no WebGPU kernels for the graph's fp16 nodes: the
    // fp16 tiny bundle did not get through a benchmark run in 9 minutes on the lent H200, whose
    // adapter lacks it (benchmarks/results/browser-h200/README.md).
    throw new EngineError(
      `${model.label} computes in fp16, which this GPU's WebGPU adapter does not offer ` +
        '(no shader-f16): choose the fp32 or int8 model, or open the page with ?backend=wasm',
      'session',
    );
  }
  const roles = CAPABILITY_ROLES.image;
  if (!manifest.capabilities.includes('image')) {
    throw new EngineError(`model ${model.id} cannot segment images (it offers ${manifest.capabilities.join(', ')})`, 'bundle');
  }
  // Every file is fetched and verified before onnxruntime-web does any work: overlapping the
  // encoder's session set-up with the decoder's download now and then left that download waiting
  // forever on the browser's storage (OPFS) in Chromium (CI, and 4 loads in 14 here one afternoon).
  const bytes: Record<string, ArrayBuffer> = {};
  for (const role of roles) {
    bytes[role] = await fetchModelFile(modelFile(model, role), role, onProgress, signal);
  }
  throwIfCancelled(signal, `loading ${model.id}`);
  onProgress({ phase: 'compile', file: model.id, loaded: 0, total: 1, bytesPerSecond: 0, fromCache: true });
  const t0 = performance.now();
  const create = async (role: string) => {
    try {
      return await createSession(new Uint8Array(bytes[role]), backend.sessionOptions(role === 'encoder'));
    } catch (e) {
      throw new EngineError(`onnxruntime-web (${backend.kind}) cannot run ${model.id}: ${(e as Error).message}`, 'session');
    }
  };
  // One session at a time: onnxruntime-web's WebGPU EP refuses to create two at once.
  const encoder = await create('encoder');
  let decoder: InferenceSession;
  try {
    decoder = await create('decoder');
  } catch (e) {
    void encoder.release();
    throw e;
  }
  const decoders = new Decoders(backend, family, schedule);
  decoders.add('decoder', decoder, new Uint8Array(bytes.decoder));
  const gpuPreprocess = backend.device && family.framePreprocessing ? new GpuPreprocess(backend.device, family.framePreprocessing) : null;
  const loaded: LoadedModel = {
    model,
    family,
    encoder,
    gpuPreprocess,
    decoders,
    release() {
      decoders.release();
      void encoder.release();
      gpuPreprocess?.dispose();
    },
  };
  const sessionMs = performance.now() - t0;
  try {
    throwIfCancelled(signal, `loading ${model.id}`);
    const warmupMs = backend.warmsUp ? await warmUp(loaded, decoder) : 0;
    return { loaded, result: { sessionMs, warmupMs } };
  } catch (e) {
    loaded.release();
    throw e;
  }
}

/** One decoder run on zero features while the model is still "loading": onnxruntime-web builds
 * a session's GPU pipelines on its first run, which would otherwise land on the first click
 * (first run vs later runs: benchmarks/results/native-h200/first-run). On hardware GPUs
 * only (on a CPU-emulated one a run costs far more than it saves). */
async function warmUp(l: LoadedModel, decoder: InferenceSession): Promise<number> {
  const size = l.model.manifest.input_size;
  const feeds: Record<string, Tensor> = l.family.promptFeeds({ points: [[size / 2, size / 2, 1]], multimask: true }, size, size);
  for (const m of decoder.inputMetadata) {
    if (m.name in feeds) continue;
    const dims = m.isTensor ? m.shape : [];
    if (!dims.length || !dims.every((d) => typeof d === 'number' && d > 0)) return 0; // shape unknown: no warm-up
    feeds[m.name] = f32(new Float32Array(elementCount(dims as number[])), dims as number[]);
  }
  const t0 = performance.now();
  const out = await decoder.run(feeds, l.family.outputs(true).slice(0, 2));
  for (const t of Object.values(out)) t.dispose();
  return performance.now() - t0;
}
