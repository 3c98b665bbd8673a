// The sam2web page: wires the DOM to the engine. All model and pixel work happens in the engine.

import './styles.css';
import { EngineError, SECURE_CONTEXT_HELP, Sam2Engine, webGpuHelp } from '../engine';
import type { ExportObject, ModelInfo, Point, Progress, Prompt } from '../engine';
import { ImageInputError, decodeBitmap, decodeImageFile } from './imageInput';
import { Workspace, type SegObject } from './state';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const statusEl = $('status');
const notices = $('notices');
const modelSelect = $<HTMLSelectElement>('model-select');
const stage = $('stage');
const dropzone = $('dropzone');
const imageCanvas = $<HTMLCanvasElement>('image-canvas');
const overlayCanvas = $<HTMLCanvasElement>('overlay-canvas');
const promptCanvas = $<HTMLCanvasElement>('prompt-canvas');
const thresholdInput = $<HTMLInputElement>('threshold');

let engine: Sam2Engine;
let models: ModelInfo[] = [];
let currentModel: ModelInfo | null = null;
let imageSize: { width: number; height: number } | null = null;
let imageName = 'image';
let imageBlob: Blob | null = null;
let encoded = false;
// While a model loads, an opened image waits for it: encoding it then, in the worker's queue behind
// the load, and again once the model is ready would encode it twice.
let modelLoading = false;
let encodes = 0;
let lastDecodeMs = Infinity;
const work = new Workspace();
const overlays = new Map<number, ImageBitmap>();
let preview: ImageBitmap | null = null;

// ---- status, notices, progress --------------------------------------------------------------

function status(text: string, error = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('error', error);
}

function notice(id: string, html: string | null, error = false) {
  document.getElementById(`notice-${id}`)?.remove();
  if (html === null) return;
  const div = document.createElement('div');
  div.id = `notice-${id}`;
  div.className = `notice${error ? ' error' : ''}`;
  div.textContent = html;
  notices.append(div);
}

function showError(e: unknown, context: string) {
  const message = e instanceof Error ? e.message : String(e);
  status(`${context}: ${message}`, true);
  if (e instanceof EngineError && e.code === 'device-lost') void recoverOnWasm(message);
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function showProgress(p: Progress | null) {
  const box = $('progress');
  if (!p || p.phase !== 'download') { box.hidden = true; return; }
  box.hidden = false;
  $('progress-bar').style.width = `${(100 * p.loaded / p.total).toFixed(1)}%`;
  $('progress-text').textContent = `Downloading ${p.file}: ${mb(p.loaded)} / ${mb(p.total)} ` +
    `(${mb(p.bytesPerSecond)}/s)`;
}

// ---- models ---------------------------------------------------------------------------------

async function loadCatalogue() {
  const response = await fetch('./api/models');
  const body = await response.json() as { models: ModelInfo[]; how_to_add: string | null };
  models = body.models;
  modelSelect.replaceChildren(...models.map((m) => {
    const o = document.createElement('option');
    o.value = m.id;
    o.textContent = `${m.label} · ${mb(m.bytes)}${m.random_weights ? ' · random weights (test)' : ''}` +
      (m.builtin ? ' · built in' : '');
    return o;
  }));
  modelSelect.disabled = models.length === 0;
  if (!models.length) {
    notice('models', `No models are installed on this server. ${body.how_to_add ?? ''}`, true);
    status('No model installed: see the note above.', true);
  } else if (models.every((m) => m.builtin)) {
    // Honest about what runs: the built-in model is a distilled SAM1-family model, not SAM2.
    notice('models', `Using the built-in ${models[0].label}. ${body.how_to_add ?? ''}`, false);
  }
}

function preferredModel(): ModelInfo | undefined {
  const wanted = new URLSearchParams(location.search).get('model');
  const byId = models.find((m) => m.id === wanted);
  if (byId) return byId;
  // fp16 where the GPU computes in fp16, else full precision; the server lists its best first.
  const f16 = engine.info.shaderF16 && engine.info.backend === 'webgpu';
  const best = models[0];
  return models.find((m) => m.model_id === best?.model_id && m.precision === (f16 ? 'fp16' : 'fp32')) ?? best;
}

async function selectModel(model: ModelInfo) {
  currentModel = model;
  modelSelect.value = model.id;
  encoded = false;
  status(`Loading ${model.label}…`);
  modelLoading = true;
  try {
    const t0 = performance.now();
    let cached = true;
    let warmupMs = 0;
    try {
      ({ warmupMs } = await engine.loadModel(model, (p) => {
        if (p.phase === 'download') cached = false;
        showProgress(p);
        if (p.phase === 'wait') status(`Waiting for another tab of sam2web that is downloading the ${p.file}…`);
        if (p.phase === 'verify') status(`Verifying ${p.file} (sha256)…`);
        if (p.phase === 'compile') status(`Preparing ${model.label} on ${engine.info.backend.toUpperCase()}…`);
      }));
    } finally {
      modelLoading = false;
    }
    showProgress(null);
    status(`${model.label} ready on ${engine.info.backend.toUpperCase()} ` +
      `(${cached ? 'from cache' : 'downloaded'}, ${Math.round(performance.now() - t0)} ms` +
      `${warmupMs ? `; decoder warmed up in ${Math.round(warmupMs)} ms` : ''})`);
    void refreshStorage();
    if (imageBlob) await encodeCurrentImage(true);
  } catch (e) {
    showProgress(null);
    currentModel = null;
    showError(e, `Could not load ${model.label}`);
  }
}

let recovering = false;

/** The GPU is gone: carry on with the same model, image and objects on the CPU. */
async function recoverOnWasm(reason: string) {
  if (recovering) return;
  recovering = true;
  notice('device', `The GPU device was lost (${reason}). sam2web switched to WASM (CPU) and kept ` +
    'your image and objects; reload the page to try the GPU again.', true);
  engine.dispose();
  engine = await Sam2Engine.create({ backend: 'wasm', maskRenderer: engine.info.maskRenderer, graphCapture: engine.info.graphCapture });
  engine.onDeviceLost = null;
  showBackend(`the GPU device was lost (${reason})`);
  recovering = false;
  if (currentModel) await selectModel(currentModel);
}

function startEngine(e: Sam2Engine) {
  engine = e;
  engine.onDeviceLost = (reason) => void recoverOnWasm(reason);
  // For embedding pages and diagnostics (the test suite drills GPU loss through it).
  (window as unknown as { sam2web: unknown }).sam2web = { get engine() { return engine; } };
}

// ---- image ----------------------------------------------------------------------------------

async function openImage(file: Blob, name: string) {
  let bitmap: ImageBitmap;
  try {
    bitmap = await decodeImageFile(file, name);
  } catch (e) {
    // A bad file never replaces the current image or its work.
    status(e instanceof ImageInputError ? e.message : `Could not open “${name}”.`, true);
    return;
  }
  imageBlob = file;
  imageName = name;
  imageSize = { width: bitmap.width, height: bitmap.height };
  for (const c of [imageCanvas, overlayCanvas, promptCanvas]) {
    c.width = bitmap.width;
    c.height = bitmap.height;
  }
  imageCanvas.getContext('2d')!.drawImage(bitmap, 0, 0);
  dropzone.hidden = true;
  stage.hidden = false;
  work.reset();
  clearOverlays();
  refreshSidebar();
  await encodeCurrentImage(false, bitmap); // the decoded pixels go on to the engine
}

/** Encode the current image; `decoded` saves decoding the file again (it is handed over). */
async function encodeCurrentImage(redecode: boolean, decoded?: ImageBitmap) {
  if (!imageBlob || !currentModel || modelLoading) {
    decoded?.close();
    if (!currentModel) status('Image loaded. No model is ready yet.', !models.length);
    else if (modelLoading) status(`Image loaded; it is encoded as soon as ${currentModel.label} is ready.`);
    return;
  }
  encoded = false;
  status(`Encoding ${imageName} (${imageSize!.width}×${imageSize!.height}) with ${currentModel.label}…`);
  try {
    const r = await engine.setImage(decoded ?? await decodeBitmap(imageBlob));
    if (!r) return; // superseded by a newer image or model
    encoded = true;
    document.body.dataset.encoded = String(Date.now());
    document.body.dataset.encodes = String(++encodes);
    document.body.dataset.featuresLocation = r.featuresLocation;
    status(`Encoded ${r.width}×${r.height} in ${Math.round(r.encodeMs)} ms ` +
      `(+${Math.round(r.preprocessMs)} ms resize) on ${engine.info.backend.toUpperCase()}. Click the image.`);
    if (redecode) for (const o of work.objects) if (o.points.length || o.box) await decodeObject(o, false);
    await redraw();
  } catch (e) {
    showError(e, 'Encoding failed');
  }
}

// ---- prompts and decoding -------------------------------------------------------------------

function promptFor(o: SegObject, extra?: Point): Prompt {
  const points = extra ? [...o.points, extra] : o.points;
  // One click alone is ambiguous: ask for three candidates. Otherwise one mask, refined from the
  // previous one (as SAM's interactive loop does).
  const multimask = points.length === 1 && !o.box;
  const previous = o.candidates.length ? o.candidates[o.chosen] : null;
  return { points, box: o.box, multimask, maskInput: multimask ? null : previous };
}

async function decodeObject(o: SegObject, refine = true) {
  if (!o.points.length && !o.box) {
    o.candidates = []; o.scores = []; o.version = nextVersion();
    return;
  }
  const prompt = promptFor(o);
  if (!refine) prompt.maskInput = null;
  const r = await engine.decode(prompt);
  if (!r) return;
  lastDecodeMs = r.decodeMs;
  document.body.dataset.captured = String(r.captured);
  document.body.dataset.captureFailure = r.captureFailure;
  document.body.dataset.sessions = String(r.sessions);
  const candidates = Array.from({ length: r.numMasks }, (_, i) => r.lowRes.slice(i * 65536, (i + 1) * 65536));
  const scores = Array.from(r.scores);
  o.candidates = candidates;
  o.scores = scores;
  o.chosen = scores.indexOf(Math.max(...scores));
  o.version = nextVersion();
  status(`Decoded in ${r.decodeMs.toFixed(1)} ms · ${o.name}: ${r.numMasks > 1 ? `${r.numMasks} candidates, ` : ''}` +
    `score ${scores[o.chosen].toFixed(3)}`);
  document.body.dataset.decoded = String(Date.now());
}

async function changeActive(mutate: (o: SegObject) => void) {
  if (!encoded) { status('Wait for the image to be encoded.'); return; }
  const t0 = performance.now();
  work.checkpoint();
  const o = work.active;
  mutate(o);
  try {
    await decodeObject(o);
    await redraw();
    // Timings for benchmarks/browser_clicks.py: prompt -> mask on screen (the next frame).
    requestAnimationFrame(() => {
      const now = performance.now();
      document.body.dataset.clickToPaintMs = (now - t0).toFixed(2);
      document.body.dataset.firstMaskAt ??= now.toFixed(1); // ms since the page was opened
    });
  } catch (e) {
    showError(e, 'Decoding failed');
  }
}

// ---- drawing --------------------------------------------------------------------------------

function clearOverlays() {
  for (const b of overlays.values()) b.close();
  overlays.clear();
  overlaySignature.clear();
  preview?.close();
  preview = null;
}

// Versions are unique across the session (never reused after an undo), so a render key always
// names one mask, in the worker's cache too.
let versionCounter = 0;
const nextVersion = () => ++versionCounter;
const renderKey = (o: SegObject) => `${o.id}:${o.version}:${o.chosen}`;
/** What each overlay bitmap shows; only objects whose signature changed are rendered again. */
const overlaySignature = new Map<number, string>();

async function redraw() {
  const t = Number(thresholdInput.value);
  const fill = $<HTMLInputElement>('show-fill').checked;
  const contour = $<HTMLInputElement>('show-contour').checked;
  const visible = work.objects.filter((o) => o.candidates.length);
  const signature = (o: SegObject) => `${renderKey(o)}|${t}|${fill}|${contour}|${o.color.join()}`;
  const stale = visible.filter((o) => overlaySignature.get(o.id) !== signature(o));
  const staleSignatures = stale.map(signature); // as requested, even if objects change meanwhile
  const rendered = stale.length ? await engine.render(stale.map((o) => ({
    objectId: o.id, key: renderKey(o), lowRes: o.candidates[o.chosen], color: o.color,
    threshold: t, fill, contour,
  }))) : [];
  preview?.close();
  preview = null;
  const keep = new Set(visible.map((o) => o.id));
  for (const [id, bitmap] of overlays) {
    if (!keep.has(id)) { bitmap.close(); overlays.delete(id); overlaySignature.delete(id); }
  }
  const areas = new Map([...lastAreas].filter(([id]) => keep.has(id)));
  for (const r of rendered) {
    document.body.dataset.renderer = r.renderer;
    document.body.dataset.renderMs = r.renderMs.toFixed(2);
    overlays.get(r.objectId)?.close();
    overlays.set(r.objectId, r.bitmap);
    areas.set(r.objectId, r.area);
  }
  stale.forEach((o, i) => overlaySignature.set(o.id, staleSignatures[i]));
  paintOverlay();
  drawPrompts();
  refreshSidebar(areas);
  document.body.dataset.rendered = String(Date.now());
}

function paintOverlay() {
  const ctx = overlayCanvas.getContext('2d')!;
  ctx.clearRect(0, 0, overlayCanvas.width, overlayCanvas.height);
  for (const b of overlays.values()) ctx.drawImage(b, 0, 0);
  if (preview) { ctx.globalAlpha = 0.6; ctx.drawImage(preview, 0, 0); ctx.globalAlpha = 1; }
}

function drawPrompts(dragBox?: [number, number, number, number]) {
  const ctx = promptCanvas.getContext('2d')!;
  ctx.clearRect(0, 0, promptCanvas.width, promptCanvas.height);
  const scale = promptCanvas.width / promptCanvas.getBoundingClientRect().width || 1;
  const r = 6 * scale;
  for (const o of work.objects) {
    const active = o.id === work.activeId;
    ctx.lineWidth = 2 * scale;
    if (o.box) {
      ctx.strokeStyle = `rgb(${o.color.join(',')})`;
      ctx.setLineDash(active ? [] : [6 * scale, 4 * scale]);
      ctx.strokeRect(o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]);
      ctx.setLineDash([]);
    }
    for (const [x, y, label] of o.points) {
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.fillStyle = label ? '#1fbf5f' : '#e0323c';
      ctx.fill();
      ctx.strokeStyle = '#fff';
      ctx.stroke();
    }
  }
  if (dragBox) {
    ctx.strokeStyle = '#fff';
    ctx.setLineDash([5 * scale, 4 * scale]);
    ctx.strokeRect(dragBox[0], dragBox[1], dragBox[2] - dragBox[0], dragBox[3] - dragBox[1]);
    ctx.setLineDash([]);
  }
}

let lastAreas = new Map<number, number>(); // mask areas of the last render, by object id

function refreshSidebar(areas: Map<number, number> = lastAreas) {
  lastAreas = areas;
  const list = $('object-list');
  list.replaceChildren(...work.objects.map((o) => {
    const li = document.createElement('li');
    li.className = o.id === work.activeId ? 'active' : '';
    li.dataset.objectId = String(o.id);
    // The exact prompts, for tools and tests that replay them elsewhere.
    li.dataset.prompts = JSON.stringify({ points: o.points, box: o.box, chosen: o.chosen, scores: o.scores });
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = `rgb(${o.color.join(',')})`;
    const meta = document.createElement('span');
    meta.className = 'meta';
    const area = areas?.get(o.id);
    meta.textContent = `${o.name}${o.scores.length ? ` · score ${o.scores[o.chosen].toFixed(2)}` : ''}` +
      `${area !== undefined ? ` · ${area.toLocaleString()} px` : ''}`;
    const del = document.createElement('button');
    del.textContent = '×';
    del.title = `Delete ${o.name}`;
    del.onclick = (e) => { e.stopPropagation(); work.remove(o.id); void redraw(); };
    li.append(sw, meta, del);
    li.onclick = () => { work.activeId = o.id; refreshSidebar(areas); drawPrompts(); };
    return li;
  }));
  const cands = $('candidates');
  const active = work.active;
  cands.replaceChildren(...(active.candidates.length > 1 ? active.scores.map((s, i) => {
    const b = document.createElement('button');
    b.className = `candidate${i === active.chosen ? ' active' : ''}`;
    b.textContent = `Mask ${i + 1}: ${s.toFixed(2)}`;
    b.onclick = () => { work.checkpoint(); active.chosen = i; active.version = nextVersion(); void redraw(); };
    return b;
  }) : []));
  $<HTMLButtonElement>('undo').disabled = !work.canUndo();
  $<HTMLButtonElement>('redo').disabled = !work.canRedo();
}

// ---- pointer input --------------------------------------------------------------------------

function toImage(e: PointerEvent | MouseEvent): [number, number] {
  const rect = promptCanvas.getBoundingClientRect();
  const x = (e.clientX - rect.left) * imageSize!.width / rect.width;
  const y = (e.clientY - rect.top) * imageSize!.height / rect.height;
  return [Math.min(Math.max(x, 0), imageSize!.width), Math.min(Math.max(y, 0), imageSize!.height)];
}

let dragStart: [number, number] | null = null;
let dragging = false;

promptCanvas.addEventListener('contextmenu', (e) => e.preventDefault());
promptCanvas.addEventListener('pointerdown', (e) => {
  if (!imageSize) return;
  promptCanvas.setPointerCapture(e.pointerId);
  dragStart = toImage(e);
  dragging = false;
});
promptCanvas.addEventListener('pointermove', (e) => {
  if (!imageSize) return;
  const p = toImage(e);
  if (dragStart) {
    const threshold = 6 * imageSize.width / promptCanvas.getBoundingClientRect().width;
    if (Math.hypot(p[0] - dragStart[0], p[1] - dragStart[1]) > threshold) dragging = true;
    if (dragging) drawPrompts(boxOf(dragStart, p));
    return;
  }
  void hoverPreview(p);
});
promptCanvas.addEventListener('pointerleave', () => {
  preview?.close(); preview = null; paintOverlay();
});
promptCanvas.addEventListener('pointerup', (e) => {
  if (!dragStart || !imageSize) return;
  const end = toImage(e);
  const start = dragStart;
  dragStart = null;
  preview?.close(); preview = null;
  if (dragging) {
    const box = boxOf(start, end);
    void changeActive((o) => { o.box = box; o.candidates = o.points.length ? o.candidates : []; });
  } else {
    const negative = e.button === 2 || e.altKey;
    void changeActive((o) => { o.points = [...o.points, [start[0], start[1], negative ? 0 : 1]]; });
  }
});

function boxOf(a: [number, number], b: [number, number]): [number, number, number, number] {
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
}

let hoverBusy = false;
async function hoverPreview(p: [number, number]) {
  // 'auto': only when decoding keeps up with the pointer, so clicks stay snappy otherwise. 'on':
  // always (decodes replace each other, so a slow decoder shows fewer previews, never a backlog).
  const mode = $<HTMLSelectElement>('hover-preview').value;
  if (!encoded || hoverBusy || mode === 'off' || (mode === 'auto' && lastDecodeMs > 60)) return;
  hoverBusy = true;
  try {
    const o = work.active;
    const r = await engine.decode(promptFor(o, [p[0], p[1], 1]));
    if (!r || dragStart) return;
    const best = r.scores.indexOf(Math.max(...r.scores));
    const [bitmap] = await engine.render([{
      objectId: -1, key: `preview:${Date.now()}`, lowRes: r.lowRes.slice(best * 65536, (best + 1) * 65536),
      color: o.color, threshold: Number(thresholdInput.value), fill: true, contour: false,
    }]);
    preview?.close();
    preview = bitmap.bitmap;
    paintOverlay();
    document.body.dataset.previewArea = String(bitmap.area);
    document.body.dataset.previewed = `${p[0].toFixed(3)},${p[1].toFixed(3)}@${Date.now()}`;
    document.body.dataset.previews = String(Number(document.body.dataset.previews ?? 0) + 1);
  } catch {
    // A preview that fails is simply not shown; the click path reports errors.
  } finally {
    hoverBusy = false;
  }
}

// ---- exports --------------------------------------------------------------------------------

function exportObjects(all: boolean): ExportObject[] {
  const chosen = all ? work.objects : [work.active];
  return chosen.filter((o) => o.candidates.length).map((o) => ({
    name: o.name, key: renderKey(o), lowRes: o.candidates[o.chosen], color: o.color, score: o.scores[o.chosen],
  }));
}

async function download(kind: 'mask' | 'cutout' | 'coco' | 'svg') {
  const objects = exportObjects(kind === 'coco' || kind === 'svg');
  if (!objects.length) { status('Nothing to export yet: click the image to make a mask.', true); return; }
  try {
    const blob = await engine.exportMasks(kind, objects, Number(thresholdInput.value), imageName);
    const base = imageName.replace(/\.[^.]+$/, '');
    const names = { mask: `${base}-mask.png`, cutout: `${base}-cutout.png`, coco: `${base}-coco.json`, svg: `${base}-masks.svg` };
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = names[kind];
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    status(`Saved ${names[kind]} (${(blob.size / 1024).toFixed(1)} kB).`);
  } catch (e) {
    showError(e, 'Export failed');
  }
}

// ---- storage --------------------------------------------------------------------------------

async function refreshStorage() {
  try {
    const info = await engine.cacheInfo();
    $('storage-info').textContent = `${info.files} cached model file(s), ${mb(info.bytes)} · ` +
      `this site uses ${mb(info.usage)} of ${mb(info.quota)} available`;
  } catch {
    $('storage-info').textContent = 'Browser storage (OPFS) is not available: models are downloaded each visit.';
  }
}

// ---- wiring ---------------------------------------------------------------------------------

function showBackend(why?: string) {
  const badge = $('backend-badge');
  const info = engine.info;
  if (why) info.fallbackReason = why;
  badge.textContent = info.backend === 'webgpu'
    ? `WebGPU${info.adapter ? ` · ${info.adapter.vendor || info.adapter.architecture}` : ''}`
    : `WASM · ${info.numThreads} thread${info.numThreads > 1 ? 's' : ''}`;
  badge.className = `badge ${info.backend}`;
  if (info.backend === 'wasm') {
    const help = window.isSecureContext ? webGpuHelp(navigator.userAgent) : SECURE_CONTEXT_HELP;
    notice('webgpu', `WebGPU is not available: ${info.fallbackReason}. The model runs on the CPU ` +
      `(WASM) instead, which is much slower. ${help}`);
  } else notice('webgpu', null);
}

function wire() {
  const fileInput = $<HTMLInputElement>('file-input');
  fileInput.onchange = () => { const f = fileInput.files?.[0]; if (f) void openImage(f, f.name); fileInput.value = ''; };
  const changeInput = $<HTMLInputElement>('change-image');
  changeInput.onchange = () => { const f = changeInput.files?.[0]; if (f) void openImage(f, f.name); changeInput.value = ''; };
  $('demo-button').onclick = async () => {
    const r = await fetch('./demo.png');
    void openImage(await r.blob(), 'demo.png');
  };
  for (const target of [dropzone, stage]) {
    target.addEventListener('dragover', (e) => { e.preventDefault(); dropzone.classList.add('over'); });
    target.addEventListener('dragleave', () => dropzone.classList.remove('over'));
    target.addEventListener('drop', (e) => {
      e.preventDefault();
      dropzone.classList.remove('over');
      const f = e.dataTransfer?.files?.[0];
      if (f) void openImage(f, f.name);
    });
  }
  window.addEventListener('paste', (e) => {
    const item = Array.from(e.clipboardData?.items ?? []).find((i) => i.kind === 'file');
    const f = item?.getAsFile();
    if (f) void openImage(f, f.name || 'pasted image');
  });
  modelSelect.onchange = () => {
    const m = models.find((x) => x.id === modelSelect.value);
    if (m) void selectModel(m);
  };
  $('new-object').onclick = () => { work.checkpoint(); work.newObject(); refreshSidebar(); drawPrompts(); };
  $('undo').onclick = () => { if (work.undo()) void redraw(); };
  $('redo').onclick = () => { if (work.redo()) void redraw(); };
  $('clear').onclick = () => { work.clear(); void redraw(); };
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
      e.preventDefault();
      if (e.shiftKey ? work.redo() : work.undo()) void redraw();
    }
  });
  thresholdInput.oninput = () => {
    $('threshold-value').textContent = Number(thresholdInput.value).toFixed(1);
    void redraw();
  };
  $('show-fill').onchange = () => void redraw();
  $('show-contour').onchange = () => void redraw();
  $('export-mask').onclick = () => void download('mask');
  $('export-cutout').onclick = () => void download('cutout');
  $('export-coco').onclick = () => void download('coco');
  $('export-svg').onclick = () => void download('svg');
  $('clear-cache').onclick = async () => {
    await engine.clearCache();
    await refreshStorage();
    status('Cached models cleared; the next load downloads them again.');
  };
}

async function start() {
  wire();
  refreshSidebar();
  try {
    const params = new URLSearchParams(location.search);
    const wanted = params.get('backend');
    const threads = Number(params.get('threads')) || undefined;
    const renderer = params.get('renderer');
    const capture = params.get('capture');
    startEngine(await Sam2Engine.create({
      backend: wanted === 'wasm' || wanted === 'webgpu' ? wanted : 'auto', numThreads: threads,
      maskRenderer: renderer === 'webgl2' || renderer === 'js' ? renderer : 'auto',
      graphCapture: capture === 'on' || capture === 'off' ? capture : 'auto',
    }));
  } catch (e) {
    showError(e, 'The engine could not start');
    return;
  }
  showBackend();
  await refreshStorage();
  await loadCatalogue();
  const model = preferredModel();
  if (model) await selectModel(model);
  document.body.dataset.ready = 'true';
}

void start();
