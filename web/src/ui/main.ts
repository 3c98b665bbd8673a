// The sam2web page: starts the engine and wires the page's controls to the controller.
// URL parameters: ?backend=webgpu|wasm, ?adapter=compat, ?threads=N, ?model=ID, ?renderer=webgpu|webgl2|js,
// ?capture=on|off (README.md says what each does).

import './styles.css';
import { Sam2Engine } from '../engine';
import { Controller } from './controller';
import { telemetry } from './telemetry';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function wire(app: Controller) {
  const open = (f: File | null | undefined, name?: string) => {
    if (f) void app.openImage(f, name ?? f.name);
  };
  for (const id of ['file-input', 'change-image']) {
    const input = $<HTMLInputElement>(id);
    input.onchange = () => {
      open(input.files?.[0]);
      input.value = '';
    };
  }
  $('demo-button').onclick = async () => void app.openImage(await (await fetch('./demo.png')).blob(), 'demo.png');
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
      open(e.dataTransfer?.files?.[0]);
    });
  }
  window.addEventListener('paste', (e) => {
    const f = Array.from(e.clipboardData?.items ?? [])
      .find((i) => i.kind === 'file')
      ?.getAsFile();
    open(f, f?.name || 'pasted image');
  });
  const select = $<HTMLSelectElement>('model-select');
  select.onchange = () => {
    const m = app.modelById(select.value);
    if (m) void app.selectModel(m);
  };
  $('new-object').onclick = () => app.newObject();
  $('undo').onclick = () => app.undo();
  $('redo').onclick = () => app.redo();
  $('clear').onclick = () => app.clear();
  window.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
      e.preventDefault();
      if (e.shiftKey) app.redo();
      else app.undo();
    }
  });
  const threshold = $<HTMLInputElement>('threshold');
  threshold.oninput = () => {
    $('threshold-value').textContent = Number(threshold.value).toFixed(1);
    void app.redraw();
  };
  $('show-fill').onchange = () => void app.redraw();
  $('show-contour').onchange = () => void app.redraw();
  const importInput = $<HTMLInputElement>('import-annotations');
  importInput.onchange = () => {
    const file = importInput.files?.[0];
    importInput.value = ''; // the same file again is a new import
    if (file) void app.importAnnotations(file);
  };
  for (const kind of ['mask', 'cutout', 'coco', 'svg', 'yolo', 'labelme', 'cvat'] as const)
    $(`export-${kind}`).onclick = () => void app.download(kind);
  $('clear-cache').onclick = () => void app.clearCache();
  $('cancel-load').onclick = () => app.cancelLoad();
}

async function start() {
  const app = new Controller();
  wire(app);
  app.refresh();
  try {
    const params = new URLSearchParams(location.search);
    const backend = params.get('backend');
    const renderer = params.get('renderer');
    const capture = params.get('capture');
    app.useEngine(
      await Sam2Engine.create({
        backend: backend === 'wasm' || backend === 'webgpu' ? backend : 'auto',
        numThreads: Number(params.get('threads')) || undefined,
        maskRenderer: renderer === 'webgpu' || renderer === 'webgl2' || renderer === 'js' ? renderer : 'auto',
        graphCapture: capture === 'on' || capture === 'off' ? capture : 'auto',
        probeCanvas: app.probeCanvas,
      }),
    );
    app.dropProbe();
  } catch (e) {
    app.showError(e, 'The engine could not start');
    return;
  }
  await app.attachOverlay();
  app.showBackend();
  await app.refreshStorage();
  await app.loadCatalogue();
  const model = app.preferredModel();
  if (model) await app.selectModel(model);
  telemetry.ready();
}

void start();
