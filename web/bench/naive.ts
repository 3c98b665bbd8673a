// The benchmark's naive baseline: the pipeline of the project sam2web replaces, on the same model
// files, same prompts and same pre/post-processing code as the app. Per click it
//   - creates a new decoder session from the model bytes (the old app did this on every click),
//   - feeds the image features from host memory (the encoder's outputs were read back once, so
//     on WebGPU they are uploaded again on every click),
//   - upsamples, thresholds and paints the mask on the main thread,
// and releases the session afterwards. Timings land on document.body.dataset for
// benchmarks/browser_clicks.py. Not part of the app: nothing here ships to users' pages.

import { familyOf } from '../src/engine/families';
import { openGpuDevice } from '../src/engine/gpuDevice';
import { overlayPixels, threshold } from '../src/engine/imageOps';
import type { ModelInfo } from '../src/engine/protocol';
import { createSession, f32, type InferenceSession, loadRuntime, type Tensor } from '../src/engine/runtime';

const view = document.getElementById('view') as HTMLCanvasElement;
const statusLine = document.getElementById('status')!;
const frame = () => new Promise<number>((resolve) => requestAnimationFrame(() => resolve(performance.now())));

let decoderBytes: Uint8Array;
const features: Record<string, Tensor> = {};
let model: ModelInfo;
let image: HTMLImageElement;
let rgba: Uint8ClampedArray;
let options: InferenceSession.SessionOptions;

async function start() {
  const params = new URLSearchParams(location.search);
  const backend = params.get('backend') === 'webgpu' ? 'webgpu' : 'wasm';
  // The same onnxruntime-web build as the app's engine on this backend.
  await loadRuntime(backend, new URL('../ort/', location.href).href, Number(params.get('threads') ?? 1));
  // On WebGPU, the very adapter the app picks (ORT's own choice may be another, slower one).
  let provider: InferenceSession.ExecutionProviderConfig = backend;
  if (backend === 'webgpu') {
    const gpu = await openGpuDevice();
    if ('reason' in gpu) throw new Error(gpu.reason);
    provider = { name: 'webgpu', device: gpu.device } as unknown as InferenceSession.ExecutionProviderConfig;
  }
  options = { executionProviders: [provider], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  const listing = await (await fetch('/api/models')).json();
  model = (listing.models as ModelInfo[]).find((m) => m.id === params.get('model'))!;
  if (!model) throw new Error(`model ${params.get('model')} is not served`);
  const family = familyOf(model);
  const [enc, dec] = await Promise.all(
    [model.urls.encoder, model.urls.decoder].map(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer())),
  );
  decoderBytes = dec;
  image = new Image();
  image.src = params.get('image')!;
  await image.decode();
  view.width = image.naturalWidth;
  view.height = image.naturalHeight;
  const ctx = view.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(image, 0, 0);
  rgba = ctx.getImageData(0, 0, view.width, view.height).data;
  const t0 = performance.now();
  const encoder = await createSession(enc, options);
  const outputs = await encoder.run(family.encoderFeeds(rgba, view.width, view.height));
  // Read back to host memory: the naive page keeps features as plain arrays.
  for (const [name, t] of Object.entries(family.features(outputs))) {
    features[name] = f32(new Float32Array((await t.getData()) as Float32Array), t.dims);
  }
  await encoder.release();
  document.body.dataset.encodeMs = (performance.now() - t0).toFixed(1);
  document.body.dataset.ready = 'true';
  statusLine.textContent = `ready (${backend})`;
}

// One click: a fresh single-point prompt, decoded, upsampled, painted; returns click -> painted ms.
(window as unknown as { click: (x: number, y: number) => Promise<number> }).click = async (x, y) => {
  const t0 = performance.now();
  const family = familyOf(model);
  const { width, height } = view;
  const decoder = await createSession(decoderBytes, options);
  const wanted = family.outputs(true);
  const out = await decoder.run({ ...features, ...family.promptFeeds({ points: [[x, y, 1]], multimask: true }, width, height) }, wanted);
  const scores = out[wanted[1]].data as Float32Array;
  const best = scores.indexOf(Math.max(...scores));
  const low = (out[wanted[0]].data as Float32Array).slice(best * 65536, (best + 1) * 65536);
  const logits = wanted[2] ? (out[wanted[2]].data as Float32Array) : family.upsample(low, width, height);
  await decoder.release();
  const { pixels } = overlayPixels(threshold(logits, 0), width, height, [30, 144, 255], true, false);
  const ctx = view.getContext('2d')!;
  ctx.drawImage(image, 0, 0);
  const layer = new OffscreenCanvas(width, height);
  layer.getContext('2d')!.putImageData(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  ctx.drawImage(layer, 0, 0);
  const painted = await frame();
  document.body.dataset.firstMaskAt ??= painted.toFixed(1);
  return painted - t0;
};

start().catch((e) => {
  statusLine.textContent = `error: ${(e as Error).message}`;
  document.body.dataset.ready = 'error';
});
