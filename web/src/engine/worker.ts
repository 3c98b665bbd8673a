// The engine's worker: owns onnxruntime-web, the sessions, the image features and all per-pixel
// work, so the page's main thread only draws finished bitmaps.

import * as ort from 'onnxruntime-web/webgpu';
import { EngineError, cacheInfo, clearCache, fetchModelFile } from './modelCache';
import { overlayPixels, preprocessSquash, threshold, upsampleLogits } from './imageOps';
import { maskStats, rleCounts, rleToString, svgDocument, tracePolygons } from './exporters';
import type { Backend, ExportObject, ModelInfo, Prompt, RenderRequest, Request, WorkerMessage } from './protocol';

const LOW = 256;
const CLAMP = 32;

interface Loaded {
  model: ModelInfo;
  encoder: ort.InferenceSession;
  decoder: ort.InferenceSession;
}

let backend: Backend = 'wasm';
let fallbackReason = '';
let device: GPUDevice | null = null;
let deviceLost = '';
let adapterIsSoftware = false;
let loaded: Loaded | null = null;
let image: { rgba: Uint8ClampedArray; width: number; height: number } | null = null;
let features: Record<string, ort.Tensor> | null = null;
const fullRes = new Map<string, Float32Array>(); // upsampled logits, keyed by object + version

const post = (m: WorkerMessage, transfer: Transferable[] = []) =>
  (self as unknown as Worker).postMessage(m, transfer);

async function initWebGpu(): Promise<string> {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return 'this browser does not expose WebGPU (navigator.gpu is missing)';
  const isSoftware = (a: GPUAdapter | null) =>
    !!a && ((a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter ??
      (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false);
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  // Some GPUs/drivers only offer a compatibility-mode adapter (OpenGL ES class hardware); a real
  // GPU there beats a software (CPU-emulated) core adapter.
  if (!adapter || isSoftware(adapter)) {
    const compat = await gpu.requestAdapter({ featureLevel: 'compatibility' } as GPURequestAdapterOptions);
    if (compat && (!adapter || !isSoftware(compat))) adapter = compat;
  }
  if (!adapter) return 'WebGPU is present but no GPU adapter is available (GPU blocklisted or disabled)';
  adapterIsSoftware = isSoftware(adapter);
  const wanted: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];
  try {
    device = await adapter.requestDevice({
      requiredFeatures: wanted.filter((f) => adapter!.features.has(f)),
      requiredLimits: {
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: adapter.limits.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: adapter.limits.maxComputeWorkgroupSizeY,
        maxComputeWorkgroupSizeZ: adapter.limits.maxComputeWorkgroupSizeZ,
      },
    });
  } catch (e) {
    return `the GPU adapter refused to create a device (${(e as Error).message})`;
  }
  device.lost.then((info) => {
    deviceLost = info.message || info.reason || 'unknown reason';
    loaded = null;
    features = null;
    post({ id: 0, event: 'device-lost', reason: deviceLost }); // tell the page at once
  });
  return '';
}

async function init(wanted: Backend | 'auto', numThreads: number) {
  ort.env.logLevel = 'error'; // no console noise in normal use
  ort.env.wasm.numThreads = numThreads;
  // The runtime files sit in ort/ at the app's root (see vite.config.ts); this worker is in assets/.
  ort.env.wasm.wasmPaths = new URL('../ort/', self.location.href).href;
  fallbackReason = '';
  if (wanted !== 'wasm') {
    const reason = await initWebGpu();
    if (!reason) backend = 'webgpu';
    else { backend = 'wasm'; fallbackReason = reason; }
  } else {
    backend = 'wasm';
    fallbackReason = 'WASM was chosen';
  }
  const info = device ? (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo : undefined;
  return {
    backend, fallbackReason, numThreads, software: adapterIsSoftware,
    crossOriginIsolated: self.crossOriginIsolated,
    adapter: info ? { vendor: info.vendor, architecture: info.architecture } : null,
    shaderF16: device?.features.has('shader-f16') ?? false,
  };
}

function sessionOptions(encoder: boolean): ort.InferenceSession.SessionOptions {
  if (backend === 'webgpu') {
    return {
      executionProviders: [{ name: 'webgpu', device } as unknown as ort.InferenceSession.ExecutionProviderConfig],
      // Encoder outputs stay on the GPU; the decoder reads them there on every click.
      preferredOutputLocation: encoder ? 'gpu-buffer' : 'cpu',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    };
  }
  return { executionProviders: ['wasm'], graphOptimizationLevel: 'all', logSeverityLevel: 3 };
}

async function load(model: ModelInfo, id: number) {
  checkDevice();
  loaded = null;
  features = null;
  const progress = (p: import('./protocol').Progress) => post({ id, progress: p });
  const files = model.manifest.files;
  const encBytes = await fetchModelFile({ url: model.urls.encoder, ...files.encoder }, 'encoder', progress);
  const decBytes = await fetchModelFile({ url: model.urls.decoder, ...files.decoder }, 'decoder', progress);
  progress({ phase: 'compile', file: model.id, loaded: 0, total: 1, bytesPerSecond: 0, fromCache: true });
  const t0 = performance.now();
  let encoder: ort.InferenceSession, decoder: ort.InferenceSession;
  try {
    encoder = await ort.InferenceSession.create(new Uint8Array(encBytes), sessionOptions(true));
    decoder = await ort.InferenceSession.create(new Uint8Array(decBytes), sessionOptions(false));
  } catch (e) {
    throw new EngineError(`onnxruntime-web (${backend}) cannot run ${model.id}: ${(e as Error).message}`, 'session');
  }
  loaded = { model, encoder, decoder };
  return { sessionMs: performance.now() - t0 };
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
  for (const t of Object.values(features ?? {})) t.dispose();
  features = null;
  const m = loaded.model.manifest;
  const t0 = performance.now();
  const size = m.input_size;
  const tensor = new ort.Tensor('float32', preprocessSquash(rgba, width, height, size, m.mean, m.std), [1, 3, size, size]);
  const t1 = performance.now();
  features = await loaded.encoder.run({ image: tensor });
  return { width, height, preprocessMs: t1 - t0, encodeMs: performance.now() - t1 };
}

function checkDevice() {
  if (deviceLost) throw new EngineError(`the GPU device was lost (${deviceLost})`, 'device-lost');
}

async function decode(prompt: Prompt) {
  checkDevice();
  if (!loaded || !features || !image) throw new EngineError('no image encoded yet', 'state');
  const { width, height } = image;
  const size = loaded.model.manifest.input_size;
  const coords: number[] = [], labels: number[] = [];
  // Official layout: box corners (labels 2 and 3) first, then the clicks.
  if (prompt.box) {
    const [x0, y0, x1, y1] = prompt.box;
    coords.push(x0 * size / width, y0 * size / height, x1 * size / width, y1 * size / height);
    labels.push(2, 3);
  }
  for (const [x, y, label] of prompt.points) {
    coords.push(x * size / width, y * size / height);
    labels.push(label);
  }
  if (!labels.length) throw new EngineError('a prompt needs at least one point or a box', 'prompt');
  const n = labels.length;
  const feeds: Record<string, ort.Tensor> = {
    image_embed: features.image_embed,
    high_res_feats_0: features.high_res_feats_0,
    high_res_feats_1: features.high_res_feats_1,
    point_coords: new ort.Tensor('float32', Float32Array.from(coords), [1, n, 2]),
    point_labels: new ort.Tensor('float32', Float32Array.from(labels), [1, n]),
    mask_input: new ort.Tensor('float32', prompt.maskInput ?? new Float32Array(LOW * LOW), [1, 1, LOW, LOW]),
    has_mask_input: new ort.Tensor('float32', Float32Array.of(prompt.maskInput ? 1 : 0), [1]),
  };
  const t0 = performance.now();
  const wanted = prompt.multimask ? ['masks', 'iou_predictions'] : ['single_mask', 'single_iou'];
  const out = await loaded.decoder.run(feeds, wanted);
  const decodeMs = performance.now() - t0;
  const lowRes = Float32Array.from(out[wanted[0]].data as Float32Array, (v) => Math.max(-CLAMP, Math.min(CLAMP, v)));
  const scores = Float32Array.from(out[wanted[1]].data as Float32Array);
  for (const t of Object.values(out)) t.dispose();
  return { lowRes, scores, numMasks: scores.length, decodeMs };
}

function logitsFor(key: string, lowRes: Float32Array): Float32Array {
  let logits = fullRes.get(key);
  if (!logits) {
    logits = upsampleLogits(lowRes, LOW, LOW, image!.width, image!.height);
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
    const bits = threshold(logitsFor(m.key, m.lowRes), m.threshold);
    const { pixels, area } = overlayPixels(bits, width, height, m.color, m.fill, m.contour);
    const bitmap = await createImageBitmap(new ImageData(pixels as Uint8ClampedArray<ArrayBuffer>, width, height));
    results.push({ objectId: m.objectId, bitmap, area, renderMs: performance.now() - t0 });
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
    case 'init': return init(req.backend, req.numThreads);
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
self.onmessage = (event: MessageEvent) => {
  const { id, request } = event.data as { id: number; request: Request };
  queue = queue.then(async () => {
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
