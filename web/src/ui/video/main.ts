// The video tracking page: starts the engine and wires the page's controls to the VideoApp.
// URL parameters: ?backend=webgpu|wasm, ?adapter=compat, ?threads=N, ?model=ID.

import '../styles.css';
import { Sam2Engine } from '../../engine';
import { status } from '../notices';
import { VideoApp } from './videoApp';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function wire(app: VideoApp) {
  const open = (files: FileList | File[] | null | undefined) => {
    if (files?.length) void app.openFiles([...files]);
  };
  for (const id of ['video-input', 'frames-input']) {
    const input = $<HTMLInputElement>(id);
    input.onchange = () => {
      open(input.files);
      input.value = '';
    };
  }
  const dropzone = $('dropzone');
  for (const target of [dropzone, $('stage')]) {
    target.addEventListener('dragover', (e) => {
      e.preventDefault();
      dropzone.classList.add('over');
    });
    target.addEventListener('dragleave', () => dropzone.classList.remove('over'));
    target.addEventListener('drop', (e) => {
      e.preventDefault();
      dropzone.classList.remove('over');
      open(e.dataTransfer?.files);
    });
  }
  window.addEventListener('paste', (e) => {
    const files = Array.from(e.clipboardData?.items ?? [])
      .filter((i) => i.kind === 'file')
      .map((i) => i.getAsFile())
      .filter((f): f is File => f !== null);
    open(files);
  });
  const select = $<HTMLSelectElement>('model-select');
  select.onchange = () => {
    const m = app.models.find((x) => x.id === select.value);
    if (m) void app.selectModel(m);
  };
  const timeline = $<HTMLInputElement>('timeline');
  timeline.oninput = () => void app.seek(Number(timeline.value));
  $('play').onclick = () => void app.togglePlay();
  $('step-back').onclick = () => void app.seek(app.frameIdx - 1);
  $('step-forward').onclick = () => void app.seek(app.frameIdx + 1);
  window.addEventListener('keydown', (e) => {
    if (e.target instanceof HTMLInputElement && e.target.type !== 'range') return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && (e.key.toLowerCase() === 'y' || (e.shiftKey && e.key.toLowerCase() === 'z'))) void app.redo();
    else if (mod && e.key.toLowerCase() === 'z') void app.undo();
    else if (e.key === 'ArrowLeft') void app.seek(app.frameIdx - 1);
    else if (e.key === 'ArrowRight') void app.seek(app.frameIdx + 1);
    else if (e.key === ' ') void app.togglePlay();
    else return;
    e.preventDefault();
  });
  $('camera-start').onclick = () => void app.startCamera();
  $('camera-stop').onclick = () => void app.stopCamera();
  $('new-object').onclick = () => app.newObject();
  $('remove-object').onclick = () => void app.removeObject();
  $('undo').onclick = () => void app.undo();
  $('redo').onclick = () => void app.redo();
  $('track-forward').onclick = () => void app.propagate('forward');
  $('track-backward').onclick = () => void app.propagate('backward');
  $('track-both').onclick = () => void app.propagate('both');
  $('track-cancel').onclick = () => app.cancelTracking();
  $('track-pause').onclick = () => app.pause();
  $('track-resume').onclick = () => void app.resume();
  $('export-coco').onclick = () => app.exportCoco();
  $('export-png').onclick = () => void app.exportPngs();
  $('export-cvat').onclick = () => app.exportCvat();
  $('export-yolo').onclick = () => void app.exportYolo();
  $('export-webm').onclick = () => void app.exportVideo('overlay', 'webm');
  $('export-mp4').onclick = () => void app.exportVideo('overlay', 'mp4');
  $('export-cutout-webm').onclick = () => void app.exportVideo('cutout', 'webm');
  $('export-cutout-mp4').onclick = () => void app.exportVideo('cutout', 'mp4');
}

async function start() {
  const app = new VideoApp();
  wire(app);
  try {
    const params = new URLSearchParams(location.search);
    const backend = params.get('backend');
    app.engine = await Sam2Engine.create({
      backend: backend === 'wasm' || backend === 'webgpu' ? backend : 'auto',
      numThreads: Number(params.get('threads')) || undefined,
      maskRenderer: 'js',
      adapter: params.get('adapter') === 'compat' ? 'compat' : 'auto',
    });
  } catch (e) {
    app.fail(e, 'The engine could not start');
    return;
  }
  // For scripts and tests, as on the image page: the engine, and the app's state.
  (window as unknown as { sam2web: unknown }).sam2web = { engine: app.engine, app };
  const info = app.engine.info;
  $('backend-badge').textContent = info.backend === 'webgpu' ? 'WebGPU' : `WASM${info.fallbackReason ? ` (${info.fallbackReason})` : ''}`;
  document.body.dataset.backend = info.backend;
  app.engine.onDeviceLost = (reason) => {
    app.deviceLost = `The GPU device was lost (${reason}): the masks done so far are kept; reload the page to go on.`;
    app.cancelTracking();
    status(app.deviceLost, true);
    document.body.dataset.error = app.deviceLost;
  };
  await app.loadCatalogue();
  const model = app.preferredModel();
  if (model) await app.selectModel(model);
}

void start();
