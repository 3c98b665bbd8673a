// The page's controller: models, the image, prompts -> decodes -> overlays, exports, and recovery
// from a lost GPU. It owns the flow; the engine does every model and pixel operation, the
// Workspace holds the user's work, and stage/sidebar/canvasInput/notices/telemetry are the view.

import type { DecodeResult, ExportKind, ExportObject, ModelInfo, Point, Prompt } from '../engine';
import { capabilityBytes, EngineError, Sam2Engine, SECURE_CONTEXT_HELP, webGpuHelp } from '../engine';
import { CanvasInput } from './canvasInput';
import { EverythingPanel } from './everything';
import { decodeBitmap, decodeImageFile, ImageInputError } from './imageInput';
import { parseAnnotations } from './importAnnotations';
import { mb, notice, showProgress, status } from './notices';
import { Sidebar } from './sidebar';
import { Stage } from './stage';
import { hasPrompts, type SegObject, Workspace } from './state';
import { telemetry } from './telemetry';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const LOW = 256 * 256;

/** Display settings read from the page's controls. */
function display() {
  return {
    threshold: Number($<HTMLInputElement>('threshold').value),
    fill: $<HTMLInputElement>('show-fill').checked,
    contour: $<HTMLInputElement>('show-contour').checked,
    hover: $<HTMLSelectElement>('hover-preview').value,
  };
}

const renderKey = (o: SegObject) => `${o.id}:${o.version}:${o.chosen}`;

export class Controller {
  engine!: Sam2Engine;
  readonly work = new Workspace();
  private readonly stage = new Stage();
  private readonly sidebar: Sidebar;
  private readonly input: CanvasInput;
  /** Segment everything: its masks take the stage's clicks and hovers while shown. */
  private readonly everything: EverythingPanel;
  private models: ModelInfo[] = [];
  private currentModel: ModelInfo | null = null;
  private imageBlob: Blob | null = null;
  private imageName = 'image';
  private encoded = false;
  // While a model loads, an opened image waits for it: encoding it then, in the worker's queue
  // behind the load, and again once the model is ready would encode it twice.
  private modelLoading = false;
  private lastDecodeMs = Number.POSITIVE_INFINITY;
  /** (object, prompt revision) pairs being decoded, so a redo does not ask for them twice. */
  private readonly inFlight = new Set<string>();
  /** What each overlay bitmap shows; only objects whose signature changed are rendered again. */
  private readonly overlaySignature = new Map<number, string>();
  private previewBusy = false;
  /** The last hover preview asked for: a click on that very point takes its result instead of
   * decoding the same prompt again (and never waits behind it in the worker). */
  private lastPreview: {
    id: number;
    rev: number;
    x: number;
    y: number;
    result: Promise<DecodeResult | null>;
    abort: AbortController;
  } | null = null;
  /** Cancels the model load under way (the Cancel button, or choosing another model). */
  private loadAbort: AbortController | null = null;
  private recovering = false;

  constructor() {
    this.sidebar = new Sidebar({
      select: (id) => {
        this.work.select(id);
        this.sidebar.refreshActive(this.work);
        this.stage.drawPrompts(this.work.objects, this.work.activeId);
      },
      remove: (id) => {
        this.work.remove(id);
        void this.redraw();
      },
      rename: (id, name) => {
        this.work.rename(id, name);
        this.refresh();
      },
      choose: (id, i) => {
        this.work.chooseCandidate(id, i);
        void this.redraw();
      },
    });
    this.input = new CanvasInput(this.stage.prompts, {
      imageSize: () => (this.imageBlob ? this.stage.size : null),
      press: (x, y) => this.dropPreviewUnlessAt(x, y),
      click: (x, y, negative) => {
        if (!this.everything.click(x, y))
          void this.prompt(() => this.work.addPoint([x, y, negative ? 0 : 1]), negative ? null : this.previewAt(x, y));
      },
      box: (box) => void this.prompt(() => this.work.setBox(box)),
      hover: (x, y) => {
        if (!this.everything.hover(x, y)) void this.hoverPreview(x, y);
      },
      leave: () => {
        this.everything.leave();
        this.stage.setPreview(null);
        this.stage.paintOverlay();
      },
      dragging: (box) => this.stage.drawPrompts(this.work.objects, this.work.activeId, box),
    });
    this.everything = new EverythingPanel({
      engine: () => this.engine,
      ready: () => this.encoded,
      imageName: () => this.imageName,
      modelId: () => this.currentModel?.id ?? '',
      adopt: (r) => {
        const candidates = Array.from({ length: r.numMasks }, (_, i) => r.lowRes.slice(i * LOW, (i + 1) * LOW));
        this.work.adopt([r.point[0], r.point[1], 1], candidates, Array.from(r.scores), r.chosen);
        void this.redraw();
      },
    });
  }

  // ---- engine and models --------------------------------------------------------------------

  useEngine(engine: Sam2Engine): void {
    this.engine = engine;
    engine.onDeviceLost = (reason) => void this.recoverOnWasm(reason);
    // For embedding pages and diagnostics (the test suite drills GPU loss through it).
    (window as unknown as { sam2web: unknown }).sam2web = {
      get engine() {
        return engine;
      },
    };
  }

  /** The canvas the engine tries WebGPU canvases on, at its start. */
  probeCanvas = () => this.stage.probeCanvas();
  dropProbe = () => this.stage.dropProbe();

  /** Masks drawn by the engine on its own canvas where it can (WebGPU), else bitmaps drawn here. */
  async attachOverlay(): Promise<void> {
    let why: string;
    try {
      why = await this.engine.attachOverlay(() => this.stage.engineCanvas());
    } catch (e) {
      why = (e as Error).message;
    }
    if (why) this.stage.dropEngineCanvas(); // the bitmaps drawn here work everywhere
    telemetry.overlay(why);
    this.overlaySignature.clear();
  }

  async loadCatalogue(): Promise<void> {
    const response = await fetch('./api/models');
    const body = (await response.json()) as { models: ModelInfo[]; how_to_add: string | null };
    this.models = body.models;
    const select = $<HTMLSelectElement>('model-select');
    select.replaceChildren(
      ...this.models.map((m) => {
        const o = document.createElement('option');
        o.value = m.id;
        o.textContent = `${m.label} · ${mb(capabilityBytes(m.manifest, 'image'))}${m.random_weights ? ' · random weights (test)' : ''}${m.builtin ? ' · built in' : ''}`;
        return o;
      }),
    );
    select.disabled = this.models.length === 0;
    if (!this.models.length) {
      notice('models', `No models are installed on this server. ${body.how_to_add ?? ''}`, true);
      status('No model installed: see the note above.', true);
    } else if (this.models.every((m) => m.builtin)) {
      // Honest about what runs: the built-in model is a distilled SAM1-family model, not SAM2.
      notice('models', `Using the built-in ${this.models[0].label}. ${body.how_to_add ?? ''}`, false);
    }
  }

  preferredModel(): ModelInfo | undefined {
    const wanted = new URLSearchParams(location.search).get('model');
    const byId = this.models.find((m) => m.id === wanted);
    if (byId) return byId;
    // fp16 where the GPU computes in fp16, else fp16w (fp16 weights, fp32 arithmetic: half the
    // download of fp32, same masks) where installed, else fp32; the server lists its best first.
    const f16 = this.engine.info.shaderF16 && this.engine.info.backend === 'webgpu';
    const best = this.models[0];
    const at = (precision: string) => this.models.find((m) => m.model_id === best?.model_id && m.precision === precision);
    return (f16 ? at('fp16') : undefined) ?? at('fp16w') ?? at('fp32') ?? best;
  }

  modelById(id: string): ModelInfo | undefined {
    return this.models.find((m) => m.id === id);
  }

  async selectModel(model: ModelInfo): Promise<void> {
    this.loadAbort?.abort(); // another model was chosen while one loads: that one stops
    const abort = new AbortController();
    this.loadAbort = abort;
    this.currentModel = model;
    this.everything.reset();
    const select = $<HTMLSelectElement>('model-select');
    select.value = model.id;
    this.encoded = false;
    status(`Loading ${model.label}…`);
    const total = capabilityBytes(model.manifest, 'image'); // what the engine fetches
    showProgress({ phase: 'download', file: model.label, loaded: 0, total, bytesPerSecond: 0, fromCache: false });
    this.modelLoading = true;
    try {
      const t0 = performance.now();
      let cached = true;
      let warmupMs = 0;
      try {
        ({ warmupMs } = await this.engine.loadModel(model, {
          signal: abort.signal,
          onProgress: (p) => {
            if (p.phase === 'download') cached = false;
            showProgress(p);
            if (p.phase === 'wait') status(`Waiting for another tab of sam2web that is downloading the ${p.file}…`);
            if (p.phase === 'verify') status(`Verifying ${p.file} (sha256)…`);
            if (p.phase === 'compile') status(`Preparing ${model.label} on ${this.engine.info.backend.toUpperCase()}…`);
          },
        }));
      } finally {
        if (this.loadAbort === abort) {
          this.modelLoading = false;
          this.loadAbort = null;
        }
      }
      showProgress(null);
      status(
        `${model.label} ready on ${this.engine.info.backend.toUpperCase()} ` +
          `(${cached ? 'from cache' : 'downloaded'}, ${Math.round(performance.now() - t0)} ms` +
          `${warmupMs ? `; decoder warmed up in ${Math.round(warmupMs)} ms` : ''})`,
      );
      void this.refreshStorage();
      if (this.imageBlob) await this.encodeCurrentImage(true);
    } catch (e) {
      if (e instanceof EngineError && e.code === 'cancelled') {
        if (this.loadAbort) return; // replaced by the load of another model
        showProgress(null);
        this.currentModel = null;
        select.selectedIndex = -1; // nothing is loaded; choosing the model again resumes
        status(`Stopped loading ${model.label}. Choose it again to carry on: what was downloaded is kept.`);
        return;
      }
      showProgress(null);
      this.currentModel = null;
      this.showError(e, `Could not load ${model.label}`);
    }
  }

  /** Stops the model load under way. */
  cancelLoad(): void {
    this.loadAbort?.abort();
  }

  /** The GPU is gone: carry on with the same model, image and objects on the CPU. */
  private async recoverOnWasm(reason: string): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    notice(
      'device',
      `The GPU device was lost (${reason}). sam2web switched to WASM (CPU) and kept ` +
        'your image and objects; reload the page to try the GPU again.',
      true,
    );
    const { maskRenderer, graphCapture, adapterChoice } = this.engine.info;
    this.engine.dispose();
    this.useEngine(await Sam2Engine.create({ backend: 'wasm', maskRenderer, graphCapture, adapter: adapterChoice }));
    await this.attachOverlay(); // none on WASM: says so in the telemetry
    this.engine.onDeviceLost = null;
    this.stage.dropEngineCanvas(); // the WASM engine's overlays are bitmaps drawn here
    this.overlaySignature.clear();
    this.showBackend(`the GPU device was lost (${reason})`);
    this.recovering = false;
    this.inFlight.clear();
    if (this.currentModel) await this.selectModel(this.currentModel);
  }

  showBackend(why?: string): void {
    const badge = $('backend-badge');
    const info = this.engine.info;
    if (why) info.fallbackReason = why;
    badge.textContent =
      info.backend === 'webgpu'
        ? `WebGPU${info.adapter ? ` · ${info.adapter.vendor || info.adapter.architecture}` : ''}`
        : `WASM · ${info.numThreads} thread${info.numThreads > 1 ? 's' : ''}`;
    badge.className = `badge ${info.backend}`;
    if (info.backend === 'wasm') {
      const help = window.isSecureContext ? webGpuHelp(navigator.userAgent) : SECURE_CONTEXT_HELP;
      notice(
        'webgpu',
        `WebGPU is not available: ${info.fallbackReason}. The model runs on the CPU ` + `(WASM) instead, which is much slower. ${help}`,
      );
    } else notice('webgpu', null);
  }

  showError(e: unknown, context: string): void {
    const message = e instanceof Error ? e.message : String(e);
    status(`${context}: ${message}`, true);
    if (e instanceof EngineError && e.code === 'device-lost') void this.recoverOnWasm(message);
  }

  // ---- image --------------------------------------------------------------------------------

  async openImage(file: Blob, name: string): Promise<void> {
    let bitmap: ImageBitmap;
    try {
      bitmap = await decodeImageFile(file, name);
    } catch (e) {
      // A bad file never replaces the current image or its work.
      status(e instanceof ImageInputError ? e.message : `Could not open “${name}”.`, true);
      return;
    }
    this.imageBlob = file;
    this.imageName = name;
    this.stage.show(bitmap);
    $('dropzone').hidden = true;
    $('stage').hidden = false;
    this.work.reset();
    this.everything.reset();
    this.overlaySignature.clear();
    this.inFlight.clear();
    this.refresh();
    await this.encodeCurrentImage(false, bitmap); // the decoded pixels go on to the engine
  }

  /** Encode the current image; `decoded` saves decoding the file again (it is handed over). */
  private async encodeCurrentImage(redecode: boolean, decoded?: ImageBitmap): Promise<void> {
    if (!this.imageBlob || !this.currentModel || this.modelLoading) {
      decoded?.close();
      if (!this.currentModel) status('Image loaded. No model is ready yet.', !this.models.length);
      else if (this.modelLoading) status(`Image loaded; it is encoded as soon as ${this.currentModel.label} is ready.`);
      return;
    }
    this.encoded = false;
    const { width, height } = this.stage.size;
    status(`Encoding ${this.imageName} (${width}×${height}) with ${this.currentModel.label}…`);
    try {
      const r = await this.engine.setImage(decoded ?? (await decodeBitmap(this.imageBlob)));
      if (!r) return; // superseded by a newer image or model
      this.encoded = true;
      telemetry.encoded(r);
      status(
        `Encoded ${r.width}×${r.height} in ${Math.round(r.encodeMs)} ms ` +
          `(+${Math.round(r.preprocessMs)} ms resize) on ${this.engine.info.backend.toUpperCase()}. Click the image.`,
      );
      if (redecode) {
        // A new model: every object's prompts decoded afresh (no refinement from the old model's masks).
        this.inFlight.clear();
        await Promise.all(this.work.objects.filter(hasPrompts).map((o) => this.decodeObject(o, false)));
      }
      await this.redraw();
    } catch (e) {
      this.showError(e, 'Encoding failed');
    }
  }

  // ---- prompts and decoding -----------------------------------------------------------------

  /** The official interactive loop: one click alone is ambiguous, so three candidates; anything
   * else one mask, refined from the mask of the prompts it was edited from (`fromRev`; a box alone
   * is never refined). Built when the decode starts, so a mask still being decoded at click time
   * is the input once it has arrived, as in the official loop. */
  private promptFor(o: SegObject, fromRev: number, extra?: Point, refine = true): Prompt {
    const points = extra ? [...o.points, extra] : o.points;
    const multimask = points.length === 1 && !o.box && !o.imported;
    const useMask = refine && !multimask && points.length > 0;
    return { points, box: o.box, multimask, maskInput: useMask ? this.work.maskOf(o.id, fromRev) : null };
  }

  /** Decodes `o` as it is now; the result goes to this object at this prompt revision, wherever
   * that revision is by then (Workspace.applyDecode). Returns whether the shown state changed;
   * `drawn` hears the engine's overlay frame when the engine drew the mask itself. */
  private async decodeObject(
    o: SegObject,
    refine = true,
    same: Promise<DecodeResult | null> | null = null,
    drawn?: (frame: number) => void,
  ): Promise<boolean> {
    const key = `${o.id}:${o.promptRev}`;
    this.inFlight.add(key);
    try {
      const { threshold, fill, contour } = display();
      const show = { objectId: o.id, style: { color: o.color, threshold, fill, contour } };
      const r = await this.engine.decode(() => this.promptFor(o, o.parentRev, undefined, refine), `object:${o.id}`, { same, show });
      if (!r) {
        this.overlaySignature.delete(o.id); // the engine may have drawn it: the next redraw puts the right one back
        return false; // superseded by a newer prompt of this object, or a new image
      }
      this.lastDecodeMs = r.decodeMs;
      telemetry.decoded(r);
      const candidates = Array.from({ length: r.numMasks }, (_, i) => r.lowRes.slice(i * LOW, (i + 1) * LOW));
      const shown = this.work.applyDecode(o.id, o.promptRev, candidates, Array.from(r.scores));
      const now = this.work.find(o.id);
      if (r.frame !== null) {
        // The engine drew the best candidate with these settings: what the state now shows, if
        // it took this result (applyDecode chooses the best too); else the next redraw fixes it.
        if (shown && now && now.color === o.color) {
          this.overlaySignature.set(o.id, this.signatureOf(now, { threshold, fill, contour }));
          this.sidebar.setAreas(new Map([...this.sidebar.lastAreas, [o.id, r.area ?? 0]]));
          drawn?.(r.frame);
        } else this.overlaySignature.delete(o.id);
      }
      if (r.rendered) {
        // The overlay of the best candidate with these settings, drawn in the decode's request:
        // kept where the state now shows it (as for `frame` above), so redraw() renders nothing.
        if (shown && now && now.color === o.color && now.chosen === r.scores.indexOf(Math.max(...r.scores))) {
          telemetry.drawn(r.rendered.renderer, r.rendered.renderMs);
          this.stage.setOverlay(o.id, r.rendered.bitmap);
          this.overlaySignature.set(o.id, this.signatureOf(now, { threshold, fill, contour }));
          this.sidebar.setAreas(new Map([...this.sidebar.lastAreas, [o.id, r.rendered.area]]));
        } else {
          r.rendered.bitmap.close();
          this.overlaySignature.delete(o.id);
        }
      }
      if (shown && now) {
        status(
          `Decoded in ${r.decodeMs.toFixed(1)} ms · ${now.name}: ${r.numMasks > 1 ? `${r.numMasks} candidates, ` : ''}` +
            `score ${now.scores[now.chosen].toFixed(3)}`,
        );
      } else telemetry.discarded();
      return shown;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** A prompt edit (a Workspace command), then its decode and the redraw; `same`: a decode of
   * exactly this prompt already asked for (the hover preview at the clicked point). */
  private async prompt(edit: () => SegObject, same: Promise<DecodeResult | null> | null = null): Promise<void> {
    if (!this.encoded) {
      status('Wait for the image to be encoded.');
      return;
    }
    const t0 = performance.now();
    const o = edit();
    let direct: number | null = null; // the engine's overlay frame drawn straight from the decoder
    // The decode is asked for first (its request leaves at once), then the prompts are drawn.
    const decoding = this.decodeObject(o, true, same, (frame) => {
      direct = frame;
    });
    this.refresh();
    try {
      await decoding;
      const decoded = performance.now();
      const frame = await this.redraw();
      const drawn = performance.now();
      const at = { decoded, drawn, decodeMs: this.lastDecodeMs };
      const shownFrame = direct ?? frame;
      if (shownFrame === null) requestAnimationFrame(() => telemetry.painted(t0, at));
      else {
        const paintedAt = await this.engine.frameShown(shownFrame);
        if (paintedAt !== null) telemetry.painted(t0, at, paintedAt - performance.timeOrigin, direct !== null);
      }
    } catch (e) {
      this.showError(e, 'Decoding failed');
    }
  }

  /** After undo/redo: objects whose mask is not the one for their prompts are decoded. */
  private async catchUp(): Promise<void> {
    await this.redraw();
    if (!this.encoded) return;
    for (const o of this.work.stale()) {
      if (!hasPrompts(o)) this.work.dropMask(o.id);
      else if (!this.inFlight.has(`${o.id}:${o.promptRev}`)) {
        void this.decodeObject(o)
          .then(async (shown) => {
            if (shown) await this.redraw();
          })
          .catch((e) => this.showError(e, 'Decoding failed'));
      }
    }
    await this.redraw();
  }

  undo(): void {
    if (!this.work.undo()) return;
    this.refresh(); // the prompts change at once; masks follow when the worker gets to them
    void this.catchUp();
  }

  redo(): void {
    if (!this.work.redo()) return;
    this.refresh();
    void this.catchUp();
  }

  clear(): void {
    this.work.clear();
    void this.redraw();
  }

  newObject(): void {
    this.work.newObject();
    this.refresh();
  }

  private async hoverPreview(x: number, y: number): Promise<void> {
    // 'auto': only when decoding keeps up with the pointer, so clicks stay snappy otherwise. 'on':
    // always (previews replace each other in their own lane, so a slow decoder shows fewer of
    // them, never a backlog, and never delays or drops a click).
    const mode = display().hover;
    if (!this.encoded || this.previewBusy || mode === 'off' || (mode === 'auto' && this.lastDecodeMs > 60)) return;
    this.previewBusy = true;
    try {
      const o = this.work.active;
      const asked = { id: o.id, rev: o.promptRev };
      const abort = new AbortController();
      const result = this.engine.decode(this.promptFor(o, o.promptRev, [x, y, 1]), 'preview', { signal: abort.signal });
      // The same prompt as a click here would decode, if the object's own mask (the click's
      // refinement input) is already the one for its prompts.
      this.lastPreview = o.maskRev === o.promptRev ? { ...asked, x, y, result, abort } : null;
      const r = await result;
      if (r) telemetry.counted(r);
      const now = this.work.active;
      // Shown only while it still previews the active object's prompts, and no press began.
      if (!r || this.input.pressed || now.id !== asked.id || now.promptRev !== asked.rev) return;
      const best = r.scores.indexOf(Math.max(...r.scores));
      const [bitmap] = await this.engine.render([
        {
          objectId: -1,
          key: `preview:${Date.now()}`,
          lowRes: r.lowRes.slice(best * LOW, (best + 1) * LOW),
          color: o.color,
          threshold: display().threshold,
          fill: true,
          contour: false,
        },
      ]);
      if (this.input.pressed) {
        bitmap.bitmap.close();
        return;
      }
      this.stage.setPreview(bitmap.bitmap);
      this.stage.paintOverlay();
      telemetry.previewed(x, y, bitmap.area);
    } catch {
      // A preview that fails is simply not shown; the click path reports errors.
    } finally {
      this.previewBusy = false;
    }
  }

  /** The preview's decode, if a click at (x, y) on the active object is exactly its prompt. */
  private previewAt(x: number, y: number): Promise<DecodeResult | null> | null {
    const p = this.lastPreview;
    const o = this.work.active;
    this.lastPreview = null;
    return p && p.id === o.id && p.rev === o.promptRev && p.x === x && p.y === y ? p.result : null;
  }

  /** A press elsewhere than the last preview: that preview, if it has not started, is not run. */
  private dropPreviewUnlessAt(x: number, y: number): void {
    const p = this.lastPreview;
    if (p && (p.x !== x || p.y !== y)) {
      p.abort.abort();
      this.lastPreview = null;
    }
  }

  // ---- drawing ------------------------------------------------------------------------------

  refresh(): void {
    this.sidebar.refresh(this.work);
    this.stage.drawPrompts(this.work.objects, this.work.activeId);
  }

  /** What an object's overlay shows with these display settings. */
  private signatureOf(o: SegObject, { threshold, fill, contour }: { threshold: number; fill: boolean; contour: boolean }): string {
    return `${renderKey(o)}|${threshold}|${fill}|${contour}|${o.color.join()}`;
  }

  /** Brings every overlay up to date; the engine's overlay frame that shows it, where the engine
   * draws the overlays itself and anything changed (else null). */
  async redraw(): Promise<number | null> {
    const settings = display();
    const { threshold, fill, contour } = settings;
    const visible = this.work.objects.filter((o) => o.candidates.length);
    const signature = (o: SegObject) => this.signatureOf(o, settings);
    const stale = visible.filter((o) => this.overlaySignature.get(o.id) !== signature(o));
    const staleSignatures = stale.map(signature); // as requested, even if objects change meanwhile
    const requests = stale.map((o) => ({
      objectId: o.id,
      key: renderKey(o),
      lowRes: o.candidates[o.chosen],
      color: o.color,
      threshold,
      fill,
      contour,
    }));
    const keep = new Set(visible.map((o) => o.id));
    const removed = [...this.overlaySignature.keys()].some((id) => !keep.has(id));
    const areas = new Map([...this.sidebar.lastAreas].filter(([id]) => keep.has(id)));
    let frame: number | null = null;
    if (this.engine.drawsOverlay) {
      if (stale.length || removed) {
        const r = await this.engine.present(requests, [...keep]);
        telemetry.drawn('webgpu', r.renderMs);
        for (const [id, area] of r.areas) areas.set(id, area);
        frame = r.frame;
      }
    } else {
      const rendered = stale.length ? await this.engine.render(requests) : [];
      this.stage.keepOverlays(keep);
      for (const r of rendered) {
        telemetry.drawn(r.renderer, r.renderMs);
        this.stage.setOverlay(r.objectId, r.bitmap);
        areas.set(r.objectId, r.area);
      }
    }
    this.stage.setPreview(null);
    for (const id of this.overlaySignature.keys()) if (!keep.has(id)) this.overlaySignature.delete(id);
    for (const [i, o] of stale.entries()) this.overlaySignature.set(o.id, staleSignatures[i]);
    this.sidebar.setAreas(areas);
    this.stage.paintOverlay();
    this.refresh();
    telemetry.rendered();
    return frame;
  }

  // ---- exports and storage ------------------------------------------------------------------

  private exportObjects(all: boolean): ExportObject[] {
    const chosen = all ? this.work.objects : [this.work.active];
    return chosen
      .filter((o) => o.candidates.length)
      .map((o) => ({
        name: o.name,
        key: renderKey(o),
        lowRes: o.candidates[o.chosen],
        color: o.color,
        score: o.scores[o.chosen],
      }));
  }

  async download(kind: ExportKind): Promise<void> {
    const objects = this.exportObjects(kind !== 'mask' && kind !== 'cutout');
    if (!objects.length) {
      status('Nothing to export yet: click the image to make a mask.', true);
      return;
    }
    try {
      const blob = await this.engine.exportMasks(kind, objects, display().threshold, this.imageName);
      const base = this.imageName.replace(/\.[^.]+$/, '');
      const names = {
        mask: `${base}-mask.png`,
        cutout: `${base}-cutout.png`,
        coco: `${base}-coco.json`,
        svg: `${base}-masks.svg`,
        yolo: `${base}-yolo.zip`,
        labelme: `${base}.json`, // LabelMe finds an image's annotations by its stem
        cvat: `${base}-cvat.xml`,
      };
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = names[kind];
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
      status(`Saved ${names[kind]} (${(blob.size / 1024).toFixed(1)} kB).`);
    } catch (e) {
      this.showError(e, 'Export failed');
    }
  }

  /** COCO or LabelMe annotations of this image as objects to refine (importAnnotations.ts). */
  async importAnnotations(file: File): Promise<void> {
    if (!this.encoded) {
      status('Open the image the annotations are for first.', true);
      return;
    }
    try {
      const { width, height } = this.stage.size;
      const masks = parseAnnotations(await file.text(), this.imageName, width, height);
      const lowRes = [];
      for (const m of masks) lowRes.push({ name: m.name, lowRes: await this.engine.maskToLowRes(m.bits) });
      this.work.importMasks(lowRes);
      await this.redraw();
      status(`Imported ${masks.length} object(s) from ${file.name}: click inside one to refine it.`);
    } catch (e) {
      this.showError(e, `Cannot import ${file.name}`);
    }
  }

  async refreshStorage(): Promise<void> {
    try {
      const info = await this.engine.cacheInfo();
      $('storage-info').textContent =
        `${info.files} cached model file(s), ${mb(info.bytes)} · ` + `this site uses ${mb(info.usage)} of ${mb(info.quota)} available`;
    } catch {
      $('storage-info').textContent = 'Browser storage (OPFS) is not available: models are downloaded each visit.';
    }
  }

  async clearCache(): Promise<void> {
    await this.engine.clearCache();
    await this.refreshStorage();
    status('Cached models cleared; the next load downloads them again.');
  }
}
