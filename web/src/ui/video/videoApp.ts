// The video page's controller: a video (file or frames), the tracking model, objects with their
// prompts, propagation with progress and cancel, playback with overlays, exports. The engine does
// the tracking (engine/video/); this page decodes the frames and keeps the results (tracks.ts).
// Telemetry for tests and benchmarks: data-* attributes on <body>.

import {
  EngineError,
  type ModelInfo,
  medianStages,
  type ObjectMask,
  type Sam2Engine,
  type VideoFrameResult,
  type VideoSession,
} from '../../engine';
import { cvatVideoXml, dataYaml, yoloLabels } from '../../engine/datasetFormats';
import { centreOutlines } from '../../engine/exporters';
import { zipStore } from '../../engine/zip';
import { CanvasInput } from '../canvasInput';
import { showProgress, status } from '../notices';
import { Camera, CameraError } from './camera';
import {
  CONTAINER_CODECS,
  drawMasks,
  encodableCodec,
  encodeTrackedVideo,
  type TrackedVideoKind,
  type VideoContainer,
} from './overlayVideo';
import { davisPalette, palettePng } from './pngZip';
import { cocoDocument, decodeRle, Tracks } from './tracks';
import { type OpenedVideo, openImageSequence, openVideoFile, VideoFileError } from './videoFile';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const PALETTE = davisPalette();
const colorOf = (id: number): [number, number, number] => {
  const i = ((id - 1) % 255) + 1;
  return [PALETTE[i * 3], PALETTE[i * 3 + 1], PALETTE[i * 3 + 2]];
};

type Direction = 'forward' | 'backward';

type FramePrompt = { points: [number, number, number][]; box: [number, number, number, number] | null };

interface TrackedObject {
  id: number;
  /** Prompts per frame: points [x, y, label] and a box. */
  prompts: Map<number, FramePrompt>;
  /** Frames a propagation gave this object a mask on, and in which direction. */
  tracked: Map<number, Direction>;
}

const data = (key: string, value: string | number) => {
  document.body.dataset[key] = String(value);
};

export class VideoApp {
  engine!: Sam2Engine;
  models: ModelInfo[] = [];
  model: ModelInfo | null = null;
  method = '';
  hasMemory = false;
  video: OpenedVideo | null = null;
  session: VideoSession | null = null;
  readonly tracks = new Tracks();
  objects: TrackedObject[] = [];
  current: TrackedObject | null = null;
  frameIdx = 0;
  private tracking: AbortController | null = null;
  /** Fires to pause the running propagation at the next frame boundary. */
  private pausing: AbortController | null = null;
  /** What a paused propagation has left: per direction, the frame to go on from. */
  resumePlan: { direction: Direction; startFrame: number }[] = [];
  /** Prompts taken back by undo, latest last: redo puts them back. */
  private redoStack: { obj: TrackedObject; frameIdx: number; prompt: FramePrompt }[] = [];
  /** The running propagation's end, and why it is being stopped ('' while nobody stops it). */
  private trackingDone: Promise<void> = Promise.resolve();
  private stopReason = '';
  /** Why the engine cannot go on (its GPU device was lost), or ''. */
  deviceLost = '';
  private playing = false;
  /** The live camera while it is the source (the file video is closed then). */
  camera: Camera | null = null;
  private readonly liveTracks = new Tracks();
  private shownFrame: ImageBitmap | null = null;
  /** ?stages=sync (benchmarks): each graph's own GPU time per frame, at some cost in speed. */
  readonly syncStages = new URLSearchParams(location.search).get('stages') === 'sync';
  private drawToken = 0;

  constructor() {
    new CanvasInput($('prompt-canvas'), {
      imageSize: () =>
        this.camera
          ? { width: this.camera.width, height: this.camera.height }
          : this.video
            ? { width: this.video.width, height: this.video.height }
            : null,
      press: () => {},
      click: (x, y, negative) => void (this.camera ? this.cameraClick(x, y) : this.prompt({ point: [x, y, negative ? 0 : 1] })),
      box: (box) => void (this.camera ? null : this.prompt({ box })),
      hover: () => {},
      leave: () => this.drawPrompts(null),
      dragging: (box) => this.drawPrompts(box),
    });
  }

  fail(e: unknown, what: string): void {
    const text = `${what}: ${(e as Error).message ?? e}`;
    status(text, true);
    data('error', text);
  }

  // -- model -----------------------------------------------------------------------------------

  async loadCatalogue(): Promise<void> {
    const body = (await (await fetch('./api/models')).json()) as { models: ModelInfo[] };
    // SAM2 bundles with video graphs track with memory; SAM1-family ones frame by frame.
    this.models = body.models.filter((m) => m.capabilities.includes('video') || m.family === 'sam1');
    const select = $<HTMLSelectElement>('model-select');
    select.replaceChildren(
      ...this.models.map((m) => {
        const o = document.createElement('option');
        o.value = m.id;
        o.textContent = `${m.label}${m.family === 'sam1' ? ' · frame by frame, no SAM2 memory' : ''}${m.random_weights ? ' · random weights (test)' : ''}`;
        return o;
      }),
    );
    select.disabled = !this.models.length;
    if (!this.models.length) status('No model that can track is installed on this server.', true);
  }

  preferredModel(): ModelInfo | undefined {
    const wanted = new URLSearchParams(location.search).get('model');
    return this.models.find((m) => m.id === wanted) ?? this.models.find((m) => m.family === 'sam2') ?? this.models[0];
  }

  async selectModel(model: ModelInfo): Promise<void> {
    await this.stopTracking('another model was chosen');
    data('ready', 'false');
    $<HTMLSelectElement>('model-select').value = model.id;
    status(`Loading ${model.label}…`);
    try {
      const r = await this.engine.loadVideoModel(model, { onProgress: showProgress });
      this.model = model;
      this.method = r.method;
      this.hasMemory = r.hasMemory;
      $('method').textContent = r.hasMemory ? `${model.label}: SAM2 memory tracking` : `${model.label}: ${r.method}`;
      data('method', r.method);
      showProgress(null);
      status(`${model.label} ready (${this.engine.info.backend}).`);
      if (this.video) await this.startSession();
      data('ready', 'true');
    } catch (e) {
      showProgress(null);
      this.fail(e, `${model.label} could not be loaded`);
    }
  }

  // -- video -----------------------------------------------------------------------------------

  async openFiles(files: File[]): Promise<void> {
    if (!files.length) return;
    await this.stopTracking('another video was opened');
    await this.stopCamera();
    data('videoReady', 'false');
    delete document.body.dataset.error;
    const images = files.length > 1 || files[0].type.startsWith('image/');
    status(`Opening ${images ? `${files.length} frames` : files[0].name}…`);
    let video: OpenedVideo;
    try {
      video = images ? await openImageSequence(files) : await openVideoFile(files[0], files[0].name);
    } catch (e) {
      this.fail(e, e instanceof VideoFileError ? 'This video cannot be opened' : 'Opening the video failed');
      if (this.video) data('videoReady', 'true'); // the video open before stays, with its masks
      return;
    }
    this.video?.close();
    this.video = video;
    this.dropResume();
    this.redoStack = [];
    this.renderRedo();
    this.tracks.clear();
    this.objects = [];
    this.current = null;
    $('dropzone').hidden = true;
    $('stage').hidden = false;
    for (const id of ['frame-canvas', 'overlay-canvas', 'prompt-canvas']) {
      const c = $<HTMLCanvasElement>(id);
      c.width = video.width;
      c.height = video.height;
    }
    const timeline = $<HTMLInputElement>('timeline');
    timeline.max = String(video.numFrames - 1);
    timeline.disabled = false;
    data('numFrames', video.numFrames);
    data('size', `${video.width}x${video.height}`);
    data('fps', video.fps.toFixed(3));
    if (this.model) await this.startSession();
    void this.describeEncoders(video.width, video.height);
    this.newObject();
    await this.seek(0);
    status(`${video.name}: ${video.numFrames} frames, ${video.width}x${video.height}, ${video.fps.toFixed(2)} frames/s.`);
    data('videoReady', 'true');
  }

  /** A tracking session on the open video with the current model. The masks already there stay
   * (tracked with the model before); the prompts start again. */
  private async startSession(): Promise<void> {
    if (!this.video) return;
    this.session = await this.engine.openVideo(this.video);
    this.dropResume();
    this.redoStack = [];
    this.renderRedo();
    for (const o of this.objects) {
      o.prompts.clear();
      o.tracked.clear();
    }
  }

  // -- frames and drawing ----------------------------------------------------------------------

  async seek(frameIdx: number): Promise<void> {
    const video = this.video;
    if (!video) return;
    this.frameIdx = Math.min(Math.max(frameIdx, 0), video.numFrames - 1);
    $<HTMLInputElement>('timeline').value = String(this.frameIdx);
    $('frame-label').textContent = `frame ${this.frameIdx + 1} / ${video.numFrames}`;
    $('time-label').textContent = `${(video.times[this.frameIdx] - video.times[0]).toFixed(3)} s`;
    data('frame', this.frameIdx);
    const token = ++this.drawToken;
    try {
      const bitmap = await video.frame(this.frameIdx);
      if (token !== this.drawToken) {
        bitmap.close();
        return;
      }
      this.shownFrame?.close();
      this.shownFrame = bitmap;
      $<HTMLCanvasElement>('frame-canvas').getContext('2d')!.drawImage(bitmap, 0, 0);
    } catch (e) {
      this.fail(e, `Frame ${this.frameIdx + 1} cannot be shown`);
    }
    this.drawOverlay();
    this.drawPrompts(null);
  }

  drawOverlay(): void {
    const video = this.video;
    if (!video) return;
    const ctx = $<HTMLCanvasElement>('overlay-canvas').getContext('2d')!;
    ctx.clearRect(0, 0, video.width, video.height);
    drawMasks(ctx, this.tracks, this.frameIdx, video.width, video.height, colorOf);
  }

  private drawPrompts(dragBox: [number, number, number, number] | null): void {
    const video = this.video;
    if (!video) return;
    const ctx = $<HTMLCanvasElement>('prompt-canvas').getContext('2d')!;
    ctx.clearRect(0, 0, video.width, video.height);
    const r = Math.max(3, video.width / 160);
    for (const o of this.objects) {
      const p = o.prompts.get(this.frameIdx);
      if (!p) continue;
      const [cr, cg, cb] = colorOf(o.id);
      ctx.strokeStyle = `rgb(${cr},${cg},${cb})`;
      ctx.lineWidth = r / 2;
      if (p.box) ctx.strokeRect(p.box[0], p.box[1], p.box[2] - p.box[0], p.box[3] - p.box[1]);
      for (const [x, y, label] of p.points) {
        ctx.fillStyle = label ? '#2e7d32' : '#c62828';
        ctx.beginPath();
        ctx.arc(x, y, r, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      }
    }
    if (dragBox) {
      ctx.strokeStyle = '#fff';
      ctx.setLineDash([6, 4]);
      ctx.strokeRect(dragBox[0], dragBox[1], dragBox[2] - dragBox[0], dragBox[3] - dragBox[1]);
      ctx.setLineDash([]);
    }
  }

  // -- objects and prompts ---------------------------------------------------------------------

  newObject(): void {
    const id = Math.max(0, ...this.objects.map((o) => o.id)) + 1;
    const o: TrackedObject = { id, prompts: new Map(), tracked: new Map() };
    this.objects.push(o);
    this.current = o;
    this.renderObjects();
  }

  async removeObject(): Promise<void> {
    const o = this.current;
    if (!o || this.tracking) return;
    this.objects = this.objects.filter((x) => x !== o);
    this.dropResume();
    this.tracks.removeObject(o.id);
    if (o.prompts.size) await this.session?.removeObject(o.id).catch(() => null);
    this.current = this.objects[this.objects.length - 1] ?? null;
    if (!this.current) this.newObject();
    this.renderObjects();
    this.drawOverlay();
    this.drawPrompts(null);
  }

  renderObjects(): void {
    const list = $('object-list');
    list.replaceChildren(
      ...this.objects.map((o) => {
        const li = document.createElement('li');
        const [r, g, b] = colorOf(o.id);
        li.innerHTML = '<span class="swatch"></span>';
        (li.firstChild as HTMLElement).style.background = `rgb(${r},${g},${b})`;
        li.append(` Object ${o.id} · ${o.prompts.size} prompted frame${o.prompts.size === 1 ? '' : 's'}`);
        li.className = o === this.current ? 'active' : '';
        li.dataset.objectId = String(o.id);
        li.onclick = () => {
          this.current = o;
          this.renderObjects();
        };
        return li;
      }),
    );
    data('objects', this.objects.length);
  }

  /** A click or a box for the current object on the current frame; a correction on a frame it
   * was tracked on re-propagates from there in that direction. */
  async prompt(what: { point?: [number, number, number]; box?: [number, number, number, number] }): Promise<void> {
    const o = this.current;
    if (!o || !this.session || this.tracking) return;
    const p = o.prompts.get(this.frameIdx) ?? { points: [], box: null };
    const next = what.box ? { points: [], box: what.box } : { points: [...p.points, what.point!], box: p.box };
    this.redoStack = [];
    this.renderRedo();
    await this.applyPrompt(o, this.frameIdx, next, 'prompt');
  }

  /** Sets object `o`'s prompts on a frame (none: cleared) and shows every object's mask there;
   * on a frame a propagation tracked, tracking goes on again from there in that direction. */
  private async applyPrompt(o: TrackedObject, frameIdx: number, next: FramePrompt, what: 'prompt' | 'undo' | 'redo'): Promise<boolean> {
    const session = this.session!;
    const trackedAs = o.tracked.get(frameIdx);
    this.dropResume();
    data('prompting', 'true');
    const t0 = performance.now();
    try {
      const left = next.points.length > 0 || next.box !== null;
      const result = left
        ? await session.addPrompt(frameIdx, o.id, { points: next.points, box: next.box })
        : await session.clearPrompts(frameIdx, o.id);
      if (left) o.prompts.set(frameIdx, next);
      else o.prompts.delete(frameIdx);
      // what was sent, exactly (tests replay it on the Python tracker)
      data('lastPrompt', JSON.stringify({ frameIdx, objId: o.id, points: next.points, box: next.box }));
      data('prompts', Number(document.body.dataset.prompts ?? 0) + 1);
      this.show(result);
      this.renderObjects();
      this.drawPrompts(null);
      // From the prompt to its masks drawn (the worker's part: result.ms, result.stages).
      data('promptMs', (performance.now() - t0).toFixed(1));
      data('promptStages', JSON.stringify({ ms: result.ms, ...result.stages }));
      const area = result.masks.find((m) => m.objId === o.id)?.area ?? 0;
      const verb = what === 'prompt' ? '' : what === 'undo' ? 'Undone: ' : 'Redone: ';
      status(`${verb}object ${o.id} on frame ${frameIdx + 1}: ${area} pixels (${result.ms.toFixed(0)} ms).`);
      if (trackedAs) {
        const step = trackedAs === 'forward' ? 1 : -1;
        let start: number | null;
        if (left) {
          // SAM2: a correction on a tracked frame is stored as a tracked frame, which a
          // propagation starting there would recompute: start on the next one.
          start = this.hasMemory ? frameIdx + step : frameIdx;
        } else {
          // The object's prompts there are gone: track again from the nearest prompted frame
          // before it (in that direction), as the run that first reached this frame did.
          start = null;
          for (let f = frameIdx; f >= 0 && f < (this.video?.numFrames ?? 0); f -= step) {
            if (this.objects.some((x) => x.prompts.has(f))) {
              start = f;
              break;
            }
          }
        }
        if (start !== null && start >= 0 && start < (this.video?.numFrames ?? 0)) await this.propagate(trackedAs, start);
      }
      return true;
    } catch (e) {
      this.fail(e, what === 'prompt' ? 'The prompt could not be decoded' : `The ${what} failed`);
      return false;
    } finally {
      data('prompting', 'false');
    }
  }

  /** Takes back the current object's last prompt on this frame (its last point, else its box);
   * redo puts it back. */
  async undo(): Promise<void> {
    const o = this.current;
    if (!o || !this.session || this.tracking) return;
    const frameIdx = this.frameIdx;
    const p = o.prompts.get(frameIdx);
    if (!p) {
      status(`Object ${o.id} has no prompt on frame ${frameIdx + 1} to undo.`);
      return;
    }
    const keep = p.points.length ? { points: p.points.slice(0, -1), box: p.box } : { points: [], box: null };
    if (await this.applyPrompt(o, frameIdx, keep, 'undo')) this.redoStack.push({ obj: o, frameIdx, prompt: p });
    this.renderRedo();
  }

  /** Puts back the prompt the last undo took (on its frame and object), re-propagating where
   * that frame was tracked. */
  async redo(): Promise<void> {
    if (!this.session || this.tracking) return;
    const last = this.redoStack.pop();
    if (!last) {
      status('Nothing to redo.');
      this.renderRedo();
      return;
    }
    if (!this.objects.includes(last.obj)) {
      status(`Object ${last.obj.id} was removed: nothing to redo.`);
      this.redoStack = [];
      this.renderRedo();
      return;
    }
    this.current = last.obj;
    if (last.frameIdx !== this.frameIdx) await this.seek(last.frameIdx);
    if (!(await this.applyPrompt(last.obj, last.frameIdx, last.prompt, 'redo'))) this.redoStack.push(last);
    this.renderRedo();
  }

  private renderRedo(): void {
    $<HTMLButtonElement>('redo').disabled = !this.redoStack.length;
    data('redo', this.redoStack.length);
  }

  private show(result: VideoFrameResult): void {
    this.tracks.set(result.frameIdx, result.masks);
    data('tracked', this.tracks.frames.size);
    if (result.frameIdx === this.frameIdx) this.drawOverlay();
  }

  // -- propagation -----------------------------------------------------------------------------

  async propagate(direction: Direction | 'both', startFrame: number = this.frameIdx): Promise<void> {
    if (!this.session || this.tracking) return;
    if (!this.objects.some((o) => o.prompts.size)) {
      status('Click on an object first: tracking needs at least one prompted object.', true);
      return;
    }
    const directions: Direction[] = direction === 'both' ? ['forward', 'backward'] : [direction];
    await this.runPlan(directions.map((d) => ({ direction: d, startFrame })));
  }

  /** Goes on with a paused propagation from the frame after the last one it finished. */
  async resume(): Promise<void> {
    const plan = this.resumePlan;
    if (!plan.length || this.tracking) return;
    await this.runPlan(plan);
  }

  /** Pauses the running propagation after the frame in flight; Resume goes on from there. */
  pause(): void {
    this.pausing?.abort();
  }

  /** Forgets a paused propagation (the prompts or the video changed since). */
  private dropResume(): void {
    if (!this.resumePlan.length) return;
    this.resumePlan = [];
    $('track-resume').hidden = true;
    data('paused', 'false');
  }

  private async runPlan(plan: { direction: Direction; startFrame: number }[]): Promise<void> {
    const session = this.session;
    if (!session || this.tracking || !plan.length) return;
    const abort = new AbortController();
    const pausing = new AbortController();
    this.tracking = abort;
    this.pausing = pausing;
    this.dropResume();
    let finished: () => void = () => {};
    this.trackingDone = new Promise((resolve) => {
      finished = resolve;
    });
    $('track-cancel').hidden = false;
    $('track-pause').hidden = false;
    data('tracking', 'true');
    delete document.body.dataset.error;
    const video = this.video!;
    const total = plan.reduce((n, p) => n + (p.direction === 'forward' ? video.numFrames - p.startFrame : p.startFrame + 1), 0);
    let done = 0;
    const t0 = performance.now();
    const frameTimes: Pick<VideoFrameResult, 'ms' | 'stages'>[] = [];
    const progress = $<HTMLProgressElement>('track-progress');
    try {
      for (let k = 0; k < plan.length; k++) {
        const { direction: d, startFrame } = plan[k];
        let last = -1;
        for await (const r of session.propagate({
          direction: d,
          startFrame,
          signal: abort.signal,
          pause: pausing.signal,
          syncStages: this.syncStages,
        })) {
          this.show(r);
          frameTimes.push({ ms: r.ms, stages: r.stages });
          for (const m of r.masks) this.objects.find((o) => o.id === m.objId)?.tracked.set(r.frameIdx, d);
          last = r.frameIdx;
          done++;
          const fps = (done * 1000) / (performance.now() - t0);
          progress.value = done / total;
          $('track-info').textContent = `frame ${r.frameIdx + 1} · ${done}/${total} · ${fps.toFixed(2)} frames/s`;
          data('trackFps', fps.toFixed(3));
          if (r.frameIdx !== this.frameIdx) void this.seek(r.frameIdx);
        }
        if (pausing.signal.aborted) {
          // What is left: this direction from the frame after the last one done, then the rest.
          const next = last < 0 ? startFrame : last + (d === 'forward' ? 1 : -1);
          const left = [{ direction: d, startFrame: next }, ...plan.slice(k + 1)];
          this.resumePlan = left.filter((p) => p.startFrame >= 0 && p.startFrame < video.numFrames);
          break;
        }
      }
      const fps = ((done * 1000) / (performance.now() - t0)).toFixed(2);
      if (this.resumePlan.length) {
        const next = this.resumePlan[0];
        status(`Paused after ${done} frames (${fps} frames/s); Resume goes on ${next.direction} from frame ${next.startFrame + 1}.`);
        $('track-resume').hidden = false;
        data('paused', 'true');
        data('resumeFrame', next.startFrame);
      } else status(`Tracked ${done} frames (${fps} frames/s, ${this.method}).`);
    } catch (e) {
      if (this.deviceLost) this.fail(new Error(this.deviceLost), `Tracking stopped after ${done} frames`);
      else if (this.stopReason) {
        status(`Tracking stopped after ${done} frames: ${this.stopReason}; their masks are kept.`);
        data('stopped', this.stopReason);
      } else if (e instanceof EngineError && e.code === 'cancelled')
        status(`Tracking cancelled after ${done} frames; their masks are kept.`);
      else this.fail(e, `Tracking stopped after ${done} frames (their masks are kept)`);
    } finally {
      this.tracking = null;
      this.pausing = null;
      $('track-cancel').hidden = true;
      $('track-pause').hidden = true;
      data('tracking', 'false');
      data('trackedDone', done);
      // The worker's time per frame, stage by stage (medians; benchmarks read it).
      data(
        'trackTimings',
        JSON.stringify({
          synced: this.syncStages,
          frames: done,
          fps: (done * 1000) / (performance.now() - t0),
          p50: medianStages(frameTimes),
        }),
      );
      data('runs', Number(document.body.dataset.runs ?? 0) + 1);
      finished();
    }
  }

  cancelTracking(): void {
    this.tracking?.abort();
  }

  /** Stops a running propagation (its masks stay) and waits for it to end. */
  private async stopTracking(reason: string): Promise<void> {
    if (!this.tracking) return;
    this.stopReason = reason;
    this.tracking.abort();
    await this.trackingDone;
    this.stopReason = '';
  }

  // -- camera ------------------------------------------------------------------------------------

  /** The camera as the source: a live preview; a click starts tracking (cameraClick). */
  async startCamera(): Promise<void> {
    if (this.camera) return;
    await this.stopTracking('the camera was started');
    delete document.body.dataset.error;
    data('camera', 'starting');
    status('Starting the camera…');
    let camera: Camera;
    try {
      camera = await Camera.open();
    } catch (e) {
      const text = e instanceof CameraError ? e.message : `The camera could not start: ${(e as Error).message}`;
      status(text, true);
      data('error', text);
      data('camera', 'off');
      return;
    }
    // The camera takes the engine's one open video: a file open before is closed.
    this.video?.close();
    this.video = null;
    this.session = null;
    this.tracks.clear();
    this.objects = [];
    this.current = null;
    this.renderObjects();
    this.dropResume();
    this.camera = camera;
    $('dropzone').hidden = true;
    $('stage').hidden = false;
    $('camera-panel').hidden = false;
    for (const id of ['frame-canvas', 'overlay-canvas', 'prompt-canvas']) {
      const c = $<HTMLCanvasElement>(id);
      c.width = camera.width;
      c.height = camera.height;
      if (id !== 'frame-canvas') c.getContext('2d')!.clearRect(0, 0, c.width, c.height);
    }
    data('size', `${camera.width}x${camera.height}`);
    data('cameraFrames', 0);
    $('camera-info').textContent = 'Click an object in the picture to track it.';
    const ctx = $<HTMLCanvasElement>('frame-canvas').getContext('2d')!;
    let shown = 0;
    const draw = () => {
      if (this.camera !== camera) return;
      ctx.drawImage(camera.video, 0, 0, camera.width, camera.height);
      data('cameraShown', ++shown);
      requestAnimationFrame(draw);
    };
    requestAnimationFrame(draw);
    status(`Camera: ${camera.width}x${camera.height}. Click an object to track it (${this.method}).`);
    data('camera', 'live');
  }

  /** Starts tracking the object under (x, y) in the live picture, in real time. */
  async cameraClick(x: number, y: number): Promise<void> {
    const camera = this.camera;
    if (!camera || !this.model) return;
    data('camera', 'prompting');
    try {
      await camera.track(this.engine, Math.round(x), Math.round(y), {
        onMasks: (masks, frameIdx, fps) => {
          if (this.camera !== camera) return;
          this.liveTracks.clear();
          this.liveTracks.set(0, masks);
          const overlay = $<HTMLCanvasElement>('overlay-canvas').getContext('2d')!;
          overlay.clearRect(0, 0, camera.width, camera.height);
          drawMasks(overlay, this.liveTracks, 0, camera.width, camera.height, colorOf);
          const area = masks.find((m) => m.objId === 1)?.area ?? 0;
          $('camera-info').textContent = `frame ${frameIdx + 1} · ${fps.toFixed(1)} frames/s · ${area} pixels · ${this.method}`;
          data('cameraFrames', frameIdx + 1);
          data('cameraFps', fps.toFixed(2));
          data('cameraArea', area);
          if (frameIdx === 0) data('cameraPromptArea', area);
        },
        onEnd: (error) => {
          if (this.camera !== camera) return;
          if (error) {
            status(`Camera tracking stopped: ${error}`, true);
            data('error', `Camera tracking stopped: ${error}`);
          }
          data('camera', 'live');
        },
      });
      data('camera', 'tracking');
      status(`Tracking the clicked object live (${this.method}); click elsewhere to start over.`);
    } catch (e) {
      data('camera', 'live');
      this.fail(e, 'Tracking on the camera could not start');
    }
  }

  /** Stops tracking and the camera; the page asks for a video again. */
  async stopCamera(): Promise<void> {
    const camera = this.camera;
    if (!camera) return;
    this.camera = null;
    await camera.close();
    this.liveTracks.clear();
    $('camera-panel').hidden = true;
    $('stage').hidden = true;
    $('dropzone').hidden = false;
    this.newObject();
    status('Camera stopped.');
    data('camera', 'off');
  }

  // -- playback ----------------------------------------------------------------------------------

  async togglePlay(): Promise<void> {
    if (this.playing) {
      this.playing = false;
      return;
    }
    const video = this.video;
    if (!video) return;
    this.playing = true;
    $('play').textContent = 'Pause';
    const interval = 1000 / video.fps;
    if (this.frameIdx >= video.numFrames - 1) await this.seek(0);
    while (this.playing && this.frameIdx < video.numFrames - 1) {
      const t = performance.now();
      await this.seek(this.frameIdx + 1);
      await new Promise((r) => setTimeout(r, Math.max(0, interval - (performance.now() - t))));
    }
    this.playing = false;
    $('play').textContent = 'Play';
  }

  // -- exports -----------------------------------------------------------------------------------

  private save(blob: Blob, name: string): void {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }

  exportCoco(): void {
    const video = this.video;
    if (!video) return;
    const doc = cocoDocument(this.tracks, {
      name: video.name,
      width: video.width,
      height: video.height,
      fps: video.fps,
      numFrames: video.numFrames,
      model: this.model?.id ?? '',
      complete: true,
    });
    this.save(new Blob([JSON.stringify(doc)], { type: 'application/json' }), 'tracks.json');
  }

  /** The overlay or the cutout video as WebM or MP4 (overlayVideo.ts); the note says which codec
   * and background the file got. */
  async exportVideo(kind: TrackedVideoKind, container: VideoContainer): Promise<void> {
    const video = this.video;
    if (!video) return;
    data('exporting', `${kind}.${container}`);
    try {
      const made = await encodeTrackedVideo(video, this.tracks, colorOf, kind, container, (done, total) => {
        $('track-info').textContent = `encoding ${kind}.${container}: ${done}/${total} frames`;
      });
      this.save(made.blob, made.name);
      $('export-note').textContent = made.note;
      data('exportNote', made.note);
      data('exportCodec', made.codec);
      status(made.note);
    } catch (e) {
      this.fail(e, `The ${kind} video could not be made`);
    } finally {
      data('exporting', '');
    }
  }

  /** Says up front what the MP4 export can hold in this browser (no H.264 encoder: which codec). */
  private async describeEncoders(width: number, height: number): Promise<void> {
    const w = Math.max(2, width & ~1),
      h = Math.max(2, height & ~1);
    const mp4 = await encodableCodec(CONTAINER_CODECS.mp4, w, h);
    const webm = await encodableCodec(CONTAINER_CODECS.webm, w, h);
    const names: Record<string, string> = { avc: 'H.264', hevc: 'HEVC', vp9: 'VP9', vp8: 'VP8', av1: 'AV1' };
    const text = [
      mp4 === 'avc'
        ? 'MP4: H.264.'
        : mp4
          ? `MP4: this browser has no H.264 encoder; MP4 files will hold ${names[mp4]}.`
          : 'MP4: this browser cannot encode any codec MP4 holds.',
      webm
        ? `WebM: ${names[webm]}${webm === 'av1' ? '' : '; cutouts with a transparent background'}.`
        : 'WebM: this browser cannot encode VP9, VP8 or AV1.',
    ].join(' ');
    $('export-note').textContent = text;
    data('encoders', text);
  }

  /** Each object's polygons per tracked frame (centreOutlines: holes filled, largest first). */
  private outlines(): Map<number, Map<number, number[][]>> {
    const video = this.video!;
    const out = new Map<number, Map<number, number[][]>>();
    for (const frameIdx of this.tracks.frameIndices()) {
      for (const m of this.tracks.get(frameIdx)!.values()) {
        const polygons = m.area ? centreOutlines(decodeRle(m.counts, video.width, video.height), video.width, video.height) : [];
        if (!out.has(m.objId)) out.set(m.objId, new Map());
        out.get(m.objId)!.set(frameIdx, polygons);
      }
    }
    return out;
  }

  /** CVAT for video 1.1 (tracks.xml, as `sam2web track --format cvat`). */
  exportCvat(): void {
    if (!this.video || !this.tracks.frames.size) {
      status('Nothing is tracked yet: track an object first.', true);
      return;
    }
    const shapes = new Map<number, Map<number, number[] | null>>();
    for (const [objId, frames] of this.outlines()) {
      shapes.set(objId, new Map([...frames].map(([f, polygons]) => [f, polygons[0] ?? null])));
    }
    this.save(new Blob([cvatVideoXml(shapes, this.tracks.frames.size)], { type: 'application/xml' }), 'tracks.xml');
    status(`tracks.xml: CVAT for video 1.1, ${shapes.size} track${shapes.size === 1 ? '' : 's'}, ${this.tracks.frames.size} frames.`);
  }

  /** YOLO segmentation: images/<frame>.jpg, labels/<frame>.txt (one line per part of each
   * object; class = the object, "object N"), data.yaml. */
  async exportYolo(): Promise<void> {
    const video = this.video;
    if (!video || !this.tracks.frames.size) {
      status('Nothing is tracked yet: track an object first.', true);
      return;
    }
    try {
      const outlines = this.outlines();
      const ids = [...outlines.keys()].sort((a, b) => a - b);
      const classes = ids.map((id) => `object ${id}`);
      const files: { name: string; data: Uint8Array }[] = [];
      const canvas = new OffscreenCanvas(video.width, video.height);
      const ctx = canvas.getContext('2d')!;
      const frames = this.tracks.frameIndices();
      for (let i = 0; i < frames.length; i++) {
        const frameIdx = frames[i];
        const stem = String(frameIdx).padStart(5, '0');
        const objects = ids
          .filter((id) => outlines.get(id)!.get(frameIdx)?.length)
          .map((id) => ({ label: `object ${id}`, polygons: outlines.get(id)!.get(frameIdx)! }));
        files.push({ name: `labels/${stem}.txt`, data: new TextEncoder().encode(yoloLabels(objects, video.width, video.height, classes)) });
        const bitmap = await video.frame(frameIdx);
        ctx.drawImage(bitmap, 0, 0);
        bitmap.close();
        const jpeg = await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.95 });
        files.push({ name: `images/${stem}.jpg`, data: new Uint8Array(await jpeg.arrayBuffer()) });
        $('track-info').textContent = `writing the YOLO dataset: ${i + 1}/${frames.length} frames`;
      }
      files.push({ name: 'data.yaml', data: new TextEncoder().encode(dataYaml(classes)) });
      this.save(zipStore(files), 'yolo.zip');
      status(`yolo.zip: ${frames.length} frames, ${classes.length} class${classes.length === 1 ? '' : 'es'} (one per object).`);
    } catch (e) {
      this.fail(e, 'The YOLO dataset could not be made');
    }
  }

  async exportPngs(): Promise<void> {
    const video = this.video;
    if (!video) return;
    const too = this.objects.find((o) => o.id > 255);
    if (too) {
      status(`Object ${too.id} cannot be a palette PNG value: PNG masks need ids 1 to 255.`, true);
      return;
    }
    const files: { name: string; data: Uint8Array }[] = [];
    for (const frameIdx of this.tracks.frameIndices()) {
      const labels = new Uint8Array(video.width * video.height);
      const masks = [...this.tracks.get(frameIdx)!.values()].sort((a: ObjectMask, b: ObjectMask) => a.objId - b.objId);
      for (const m of masks) {
        const bits = decodeRle(m.counts, video.width, video.height);
        for (let i = 0; i < bits.length; i++) if (bits[i]) labels[i] = m.objId; // the higher id wins
      }
      files.push({
        name: `masks/${String(frameIdx).padStart(5, '0')}.png`,
        data: await palettePng(labels, video.width, video.height, PALETTE),
      });
    }
    this.save(zipStore(files), 'masks.zip');
  }
}
