// The engine's worker: owns onnxruntime-web, the sessions, the image features and all per-pixel
// work, so the page's main thread only draws finished bitmaps.

import { createSession, elementCount, f32, loadRuntime, sessionsCreated, type InferenceSession, type Tensor } from './runtime';
import { EngineError, cacheInfo, clearCache, fetchModelFile } from './modelCache';
import { overlayPixels, threshold } from './imageOps';
import { GpuMaskRenderer } from './maskRenderer';
import { CapturedDecoders } from './capturedDecoder';
import { openGpuDevice } from './gpuDevice';
import { type Family, familyOf } from './families';
import { maskStats, rleCounts, rleToString, svgDocument, tracePolygons } from './exporters';
import type { Backend, EncodeResult, ExportObject, GraphCaptureChoice, MaskRendererChoice, ModelInfo, Prompt, RenderRequest, Request, WorkerMessage } from './protocol';

interface Loaded {
  model: ModelInfo;
  family: Family;
  encoder: InferenceSession;
  decoder: InferenceSession;
  /** The decoder's bytes, kept while graph-captured sessions may still be made from them. */
  decoderBytes: Uint8Array | null;
  captured: CapturedDecoders | null;
}

let backend: Backend = 'wasm';
let fallbackReason = '';
let device: GPUDevice | null = null;
let deviceLost = '';
let adapterIsSoftware = false;
let loaded: Loaded | null = null;
let image: { rgba: Uint8ClampedArray; width: number; height: number } | null = null;
let features: Record<string, Tensor> | null = null;
const fullRes = new Map<string, Float32Array>(); // upsampled logits, keyed by object + version
// Full-resolution logits that came out of the decoder itself, keyed by their low-res logits'
// fingerprint, until the page asks to render that mask.
const decodedFullRes = new Map<string, Float32Array>();

/** A cheap identity for a low-res logit map (FNV-1a over its bits). */
function fingerprint(low: Float32Array): string {
  const bits = new Uint32Array(low.buffer, low.byteOffset, low.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 16777619);
  return `${low.length}:${h >>> 0}`;
}

// Masks are drawn on the GPU (WebGL2) where that is a hardware GPU; null once it proved
// unavailable, or where the choice is JavaScript.
let rendererChoice: MaskRendererChoice = 'auto';
let captureChoice: GraphCaptureChoice = 'auto';
let gpuRenderer: GpuMaskRenderer | null | undefined;
function maskRenderer(): GpuMaskRenderer | null {
  if (gpuRenderer === undefined) {
    try {
      gpuRenderer = rendererChoice === 'js' ? null : GpuMaskRenderer.create(rendererChoice === 'webgl2');
    } catch {
      gpuRenderer = null;
    }
  }
  return gpuRenderer;
}

const post = (m: WorkerMessage, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(m, transfer);

async function initWebGpu(): Promise<string> {
  const choice = await openGpuDevice();
  if ('reason' in choice) return choice.reason;
  ({ device, software: adapterIsSoftware } = choice);
  device.lost.then((info) => {
    deviceLost = info.message || info.reason || 'unknown reason';
    loaded = null;
    features = null;
    post({ id: 0, event: 'device-lost', reason: deviceLost }); // tell the page at once
  });
  return '';
}

async function init(wanted: Backend | 'auto', numThreads: number, renderer: MaskRendererChoice, capture: GraphCaptureChoice) {
  rendererChoice = renderer;
  captureChoice = capture;
  gpuRenderer = undefined;
  fallbackReason = '';
  if (wanted !== 'wasm') {
    const reason = await initWebGpu();
    if (!reason) backend = 'webgpu';
    else { backend = 'wasm'; fallbackReason = reason; }
  } else {
    backend = 'wasm';
    fallbackReason = 'WASM was chosen';
  }
  // The runtime files sit in ort/ at the app's root (see vite.config.ts); this worker is in assets/.
  await loadRuntime(backend, new URL('../ort/', self.location.href).href, numThreads);
  const info = device ? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo : undefined;
  return {
    backend, fallbackReason, numThreads, software: adapterIsSoftware,
    crossOriginIsolated: self.crossOriginIsolated,
    adapter: info ? { vendor: info.vendor, architecture: info.architecture } : null,
    shaderF16: device?.features.has('shader-f16') ?? false,
    maskRenderer: renderer,
    graphCapture: capture,
  };
}

function sessionOptions(encoder: boolean): InferenceSession.SessionOptions {
  if (backend === 'webgpu') {
    return {
      executionProviders: [{ name: 'webgpu', device } as unknown as InferenceSession.ExecutionProviderConfig],
      // Encoder outputs stay on the GPU; the decoder reads them there on every click.
      preferredOutputLocation: encoder ? 'gpu-buffer' : 'cpu',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    };
  }
  return { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
}

/** Graph capture where it pays: WebGPU on a hardware GPU (or when asked for), SAM2 decoders. */
function wantsCapture(family: Family): boolean {
  if (backend !== 'webgpu' || !family.capturable || captureChoice === 'off') return false;
  return captureChoice === 'on' || !adapterIsSoftware;
}

async function load(model: ModelInfo, id: number) {
  checkDevice();
  loaded?.captured?.release();
  loaded = null;
  features = null;
  const progress = (p: import('./protocol').Progress) => post({ id, progress: p });
  const files = model.manifest.files;
  let family: Family;
  try {
    family = familyOf(model);
  } catch (e) {
    throw new EngineError((e as Error).message, 'session');
  }
  const create = async (bytes: ArrayBuffer, encoder: boolean) => {
    try {
      return await createSession(new Uint8Array(bytes), sessionOptions(encoder));
    } catch (e) {
      throw new EngineError(`onnxruntime-web (${backend}) cannot run ${model.id}: ${(e as Error).message}`, 'session');
    }
  };
  // Both files are fetched and verified before onnxruntime-web does any work: overlapping the
  // encoder's session set-up with the decoder's download now and then left that download waiting
  // forever on the browser's storage (OPFS) in Chromium (CI, and 4 loads in 14 here one afternoon).
  const encBytes = await fetchModelFile({ url: model.urls.encoder, ...files.encoder }, 'encoder', progress);
  const decBytes = await fetchModelFile({ url: model.urls.decoder, ...files.decoder }, 'decoder', progress);
  progress({ phase: 'compile', file: model.id, loaded: 0, total: 1, bytesPerSecond: 0, fromCache: true });
  const t0 = performance.now();
  // One session at a time: onnxruntime-web's WebGPU EP refuses to create two at once.
  const encoder = await create(encBytes, true);
  let decoder: InferenceSession;
  try {
    decoder = await create(decBytes, false);
  } catch (e) {
    void encoder.release();
    throw e;
  }
  loaded = { model, family, encoder, decoder, decoderBytes: wantsCapture(family) ? new Uint8Array(decBytes) : null, captured: null };
  const sessionMs = performance.now() - t0;
  const warmupMs = backend === 'webgpu' && !adapterIsSoftware ? await warmUp(loaded) : 0;
  return { sessionMs, warmupMs };
}

/** One decoder run on zero features while the model is still "loading": onnxruntime-web builds
 * a session's GPU pipelines on its first run, which would otherwise land on the first click.
 * On hardware GPUs only (on a CPU-emulated one a run costs far more than it saves). */
async function warmUp(l: Loaded): Promise<number> {
  const size = l.model.manifest.input_size;
  const feeds: Record<string, Tensor> = l.family.promptFeeds({ points: [[size / 2, size / 2, 1]], multimask: true }, size, size);
  for (const m of l.decoder.inputMetadata) {
    if (m.name in feeds) continue;
    const dims = m.isTensor ? m.shape : [];
    if (!dims.length || !dims.every((d) => typeof d === 'number' && d > 0)) return 0; // shape unknown: no warm-up
    feeds[m.name] = f32(new Float32Array(elementCount(dims as number[])), dims as number[]);
  }
  const t0 = performance.now();
  const out = await l.decoder.run(feeds, l.family.outputs(true).slice(0, 2));
  for (const t of Object.values(out)) t.dispose();
  return performance.now() - t0;
}

function pixelsOf(bitmap: ImageBitmap): Uint8ClampedArray {
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
}

async function setImage(bitmap: ImageBitmap) {
  checkDevice();
  if (!loaded) throw new EngineError('no model loaded', 'state');
  const { width, height } = bitmap;
  const rgba = pixelsOf(bitmap);
  bitmap.close();
  image = { rgba, width, height };
  fullRes.clear();
  decodedFullRes.clear();
  for (const t of Object.values(features ?? {})) t.dispose();
  features = null;
  const t0 = performance.now();
  const feeds = loaded.family.encoderFeeds(rgba, width, height);
  const t1 = performance.now();
  features = loaded.family.features(await loaded.encoder.run(feeds));
  if (loaded.decoderBytes && device) {
    loaded.captured ??= new CapturedDecoders(device, loaded.decoderBytes,
      Object.fromEntries(Object.entries(features).map(([k, t]) => [k, t.dims])));
    loaded.captured.setFeatures(features);
  }
  const result: EncodeResult = { width, height, preprocessMs: t1 - t0, encodeMs: performance.now() - t1,
    featuresLocation: Object.values(features)[0].location };
  return result;
}

function checkDevice() {
  if (deviceLost) throw new EngineError(`the GPU device was lost (${deviceLost})`, 'device-lost');
}

async function decode(prompt: Prompt) {
  checkDevice();
  if (!loaded || !features || !image) throw new EngineError('no image encoded yet', 'state');
  if (!prompt.points.length && !prompt.box) throw new EngineError('a prompt needs at least one point or a box', 'prompt');
  const { width, height } = image;
  const { family } = loaded;
  const prompts = family.promptFeeds(prompt, width, height);
  // The decoder's own full-resolution masks (SAM1) only help the JavaScript drawing path.
  const wanted = family.outputs(prompt.multimask).slice(0, maskRenderer() ? 2 : 3);
  const clamp = family.clamp ?? Infinity;
  const clamped = (v: number) => Math.max(-clamp, Math.min(clamp, v));
  const captured = loaded.captured;
  const points = prompts.point_coords?.dims[1] ?? 0;
  if (captured?.has(points)) {
    const t0 = performance.now();
    try {
      const { lowRes, scores } = await captured.run(prompts, wanted);
      for (let i = 0; i < lowRes.length; i++) lowRes[i] = clamped(lowRes[i]);
      return { lowRes, scores, numMasks: scores.length, decodeMs: performance.now() - t0, captured: true, captureFailure: '', sessions: sessionsCreated() };
    } catch (e) {
      checkDevice();
      captured.disable((e as Error).message); // the plain session answers from now on
    }
  }
  if (captured && !captured.failure) prepareCapture(captured, points, prompts);
  const feeds = { ...features, ...prompts };
  const t0 = performance.now();
  const out = await loaded.decoder.run(feeds, wanted);
  const decodeMs = performance.now() - t0;
  const lowRes = Float32Array.from(out[wanted[0]].data as Float32Array, clamped);
  const scores = new Float32Array(out[wanted[1]].data as Float32Array);
  if (wanted[2]) {
    decodedFullRes.set(fingerprint(lowRes), new Float32Array(out[wanted[2]].data as Float32Array));
    if (decodedFullRes.size > 8) decodedFullRes.delete(decodedFullRes.keys().next().value as string);
  }
  for (const t of Object.values(out)) t.dispose();
  return { lowRes, scores, numMasks: scores.length, decodeMs, captured: false, captureFailure: captured?.failure ?? '', sessions: sessionsCreated() };
}

/** Records the decoder for this point count after the current request, so the next click with
 * as many points replays it; this click is answered by the plain session meanwhile. */
function prepareCapture(captured: CapturedDecoders, points: number, prompts: Record<string, Tensor>) {
  enqueue(async () => {
    if (loaded?.captured !== captured || deviceLost) return; // a new model came in meanwhile
    await captured.prepare(points, prompts);
  });
}

function logitsFor(key: string, lowRes: Float32Array): Float32Array {
  let logits = fullRes.get(key);
  if (!logits) {
    if (!loaded || !image) throw new EngineError('no model or image loaded', 'state');
    logits = decodedFullRes.get(fingerprint(lowRes)) ?? loaded.family.upsample(lowRes, image.width, image.height);
    fullRes.set(key, logits);
    if (fullRes.size > 16) fullRes.delete(fullRes.keys().next().value as string);
  }
  return logits;
}

async function render(masks: RenderRequest[]) {
  if (!image) throw new EngineError('no image', 'state');
  const { width, height } = image;
  const results = [];
  for (const m of masks) {
    const t0 = performance.now();
    const gpu = loaded ? maskRenderer() : null;
    if (gpu && loaded) {
      try {
        const { bitmap, area } = gpu.render(m.lowRes, loaded.family.mapping, width, height, m);
        results.push({ objectId: m.objectId, bitmap, area, renderMs: performance.now() - t0, renderer: 'webgl2' as const });
        continue;
      } catch {
        gpuRenderer = null; // e.g. a lost WebGL context: draw in JavaScript from now on
      }
    }
    const bits = threshold(logitsFor(m.key, m.lowRes), m.threshold);
    const { pixels, area } = overlayPixels(bits, width, height, m.color, m.fill, m.contour);
    const bitmap = await createImageBitmap(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, width, height));
    results.push({ objectId: m.objectId, bitmap, area, renderMs: performance.now() - t0, renderer: 'js' as const });
  }
  return results;
}

async function exportMasks(kind: string, objects: ExportObject[], t: number, fileName: string) {
  if (!image) throw new EngineError('no image', 'state');
  const { width, height, rgba } = image;
  const bitsOf = (o: ExportObject) => threshold(logitsFor(o.key, o.lowRes), t);
  if (kind === 'mask' || kind === 'cutout') {
    const bits = bitsOf(objects[0]);
    const px = new Uint8ClampedArray(width * height * 4);
    for (let i = 0; i < bits.length; i++) {
      const p = i * 4;
      if (kind === 'mask') {
        const v = bits[i] ? 255 : 0;
        px[p] = px[p + 1] = px[p + 2] = v;
        px[p + 3] = 255;
      } else if (bits[i]) {
        px[p] = rgba[p]; px[p + 1] = rgba[p + 1]; px[p + 2] = rgba[p + 2]; px[p + 3] = 255;
      }
    }
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d')!.putImageData(new ImageData(px, width, height), 0, 0);
    return canvas.convertToBlob({ type: 'image/png' });
  }
  if (kind === 'coco') {
    const annotations = objects.map((o, i) => {
      const bits = bitsOf(o);
      const { area, bbox } = maskStats(bits, width, height);
      return {
        id: i + 1, image_id: 1, category_id: 1, iscrowd: 0, area, bbox, score: o.score,
        segmentation: { size: [height, width], counts: rleToString(rleCounts(bits, width, height)) },
        sam2web_name: o.name,
      };
    });
    const doc = {
      info: { description: 'sam2web masks', date_created: new Date().toISOString() },
      images: [{ id: 1, file_name: fileName, width, height }],
      categories: [{ id: 1, name: 'object' }],
      annotations,
    };
    return new Blob([JSON.stringify(doc)], { type: 'application/json' });
  }
  if (kind === 'svg') {
    const svg = svgDocument(width, height, objects.map((o) => ({
      name: o.name, color: o.color, polygons: tracePolygons(bitsOf(o), width, height),
    })));
    return new Blob([svg], { type: 'image/svg+xml' });
  }
  throw new EngineError(`unknown export ${kind}`, 'state');
}

async function handle(id: number, req: Request) {
  switch (req.type) {
    case 'init': return init(req.backend, req.numThreads, req.maskRenderer, req.graphCapture);
    case 'load': return load(req.model, id);
    case 'setImage': return setImage(req.image);
    case 'decode': return decode(req.prompt);
    case 'render': return render(req.masks);
    case 'export': return exportMasks(req.kind, req.objects, req.threshold, req.fileName);
    case 'loseDevice': device?.destroy(); return null; // drills the recovery path
    case 'cacheInfo': return cacheInfo();
    case 'clearCache': return clearCache();
    default: throw new EngineError(`unknown request ${(req as { type: string }).type}`, 'state');
  }
}

// One request at a time: an ORT session must not run twice at once, and order matters.
let queue: Promise<unknown> = Promise.resolve();
function enqueue(job: () => Promise<void>) {
  queue = queue.then(job).catch(() => undefined);
}
self.onmessage = (event: MessageEvent) => {
  const { id, request } = event.data as { id: number; request: Request };
  enqueue(async () => {
    try {
      const result = await handle(id, request);
      const transfer: Transferable[] = [];
      if (Array.isArray(result)) for (const r of result) if (r && r.bitmap) transfer.push(r.bitmap);
      post({ id, ok: true, result }, transfer);
    } catch (e) {
      const code = e instanceof EngineError ? e.code : (deviceLost ? 'device-lost' : 'internal');
      post({ id, ok: false, error: (e as Error).message ?? String(e), code });
    }
  });
};
