// The engine's worker: message dispatch only. It owns onnxruntime-web, the sessions, the image
// and all per-pixel work (the modules below), so the page's main thread only draws bitmaps.
// Requests run one at a time, in order (an ORT session must not run twice at once); a request
// can be cancelled while it waits or between its steps.

import { Backend } from './backend';
import { decodePrompt } from './decodePrompt';
import { EngineError, serializeError, throwIfCancelled } from './errors';
import { adoptEverything, dropEverythingResult, everythingMask, releaseEverything, segmentEverything } from './everything';
import { exportMasks } from './exportMasks';
import { GpuOverlay } from './gpuOverlay';
import { ImageSession } from './imageSession';
import { type LoadedModel, loadModel } from './loader';
import { maskToLowRes } from './maskToLowRes';
import { cacheInfo, clearCache } from './modelCache';
import {
  type FromWorker,
  IMMEDIATE,
  type ProgressOf,
  type RenderedMask,
  type Request,
  type RequestType,
  type Result,
  type ToWorker,
  transferablesOf,
} from './protocol';
import { Renderer } from './render';
import { FrameRequests } from './video/frameRequests';
import { noTracker, Tracker } from './video/tracker';
import { loadVideoModel, type VideoModel } from './video/videoModel';

let backend: Backend | null = null;
let renderer: Renderer | null = null;
let model: LoadedModel | null = null;
let image: ImageSession | null = null;
/** The page's overlay canvas, drawn with WebGPU (attachOverlay), or null: the page draws bitmaps. */
let overlay: GpuOverlay | null = null;
let videoModel: VideoModel | null = null;
let tracker: Tracker | null = null;
const frameRequests = new FrameRequests((ticket, index) => post({ event: 'frame-wanted', ticket, index }));
let decodesHeld: { release: () => void; wait: Promise<void> } | null = null;

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

function ready(): Backend {
  if (!backend) throw new EngineError('the engine is not initialised', 'state');
  backend.check();
  return backend;
}

function current(): { model: LoadedModel; image: ImageSession } {
  ready();
  if (!model) throw new EngineError('no model loaded', 'state');
  if (!image?.features) throw new EngineError('no image encoded yet', 'state');
  return { model, image };
}

function closeVideo(reason: string) {
  frameRequests.abandon(reason);
  tracker?.dispose();
  tracker = null;
}

function forget(what: 'model' | 'image') {
  if (what === 'model') {
    closeVideo('the model was changed');
    videoModel?.release();
    videoModel = null;
  }
  image?.dispose();
  image = null;
  if (what === 'model') releaseEverything();
  else dropEverythingResult();
  if (overlay && !backend?.lost) {
    overlay.keep(new Set());
    overlay.present();
  }
  if (what === 'model') {
    model?.release();
    model = null;
  }
}

// Overlay frames: each present() gets a number; the page hears when the screen's next frame
// began after it (the frame that shows it), as its own requestAnimationFrame tells it for bitmaps.
let frames = 0;
let framePending = false;
function presented(): number {
  const frame = ++frames;
  if (!framePending) {
    framePending = true;
    requestAnimationFrame(() => {
      framePending = false;
      post({ event: 'painted', frame: frames, at: performance.timeOrigin + performance.now() });
    });
  }
  return frame;
}

interface Call<K extends RequestType> {
  signal: AbortSignal;
  progress: (p: ProgressOf<K>) => void;
}

type Handlers = { [K in RequestType]: (req: Request<K>, call: Call<K>) => Promise<Result<K>> | Result<K> };

const handlers: Handlers = {
  async init(req) {
    forget('model');
    overlay = null;
    backend = await Backend.create(req, (reason) => {
      forget('model');
      post({ event: 'device-lost', reason }); // tell the page at once
    });
    renderer = new Renderer(backend);
    return backend.info;
  },
  async load(req, call) {
    const b = ready();
    forget('model');
    const { loaded, result } = await loadModel(b, req.model, enqueue, call.progress, call.signal);
    model = loaded;
    return result;
  },
  async setImage(req, call) {
    ready();
    if (!model) throw new EngineError('no model loaded', 'state');
    forget('image');
    if (call.signal.aborted) req.image.close();
    throwIfCancelled(call.signal, 'encoding the image');
    const encoded = await ImageSession.encode(model, req.image);
    if (call.signal.aborted) encoded.image.dispose();
    throwIfCancelled(call.signal, 'encoding the image');
    image = encoded.image;
    overlay?.reset(image.width, image.height, model.family.mapping, model.family.clamp ?? undefined);
    if (overlay) presented();
    return encoded.result;
  },
  async decode(req) {
    await decodesHeld?.wait;
    const c = current();
    const show = overlay && req.show ? { overlay, ...req.show } : null;
    const drawn: { frame: number | null } = { frame: null };
    const draw = (masks: GPUBuffer, scores: GPUBuffer, numMasks: number) => {
      if (!show) return;
      show.overlay.setLayerFromDecoder(show.objectId, masks, scores, numMasks, show.style);
      show.overlay.present();
      drawn.frame = presented();
    };
    const result = await decodePrompt(c.model, c.image, req.prompt, overlay != null || renderer?.gpuRenderer() != null, draw);
    const area = show && drawn.frame !== null ? ((await show.overlay.areas([show.objectId])).get(show.objectId) ?? 0) : null;
    let rendered: RenderedMask | null = null;
    if (!overlay && req.show && renderer) {
      // Bitmaps drawn on the page: the best candidate's overlay goes back with the decode.
      const best = result.scores.indexOf(Math.max(...result.scores));
      const size = result.lowRes.length / result.numMasks;
      [rendered] = await renderer.render(c.model, c.image, [
        {
          objectId: req.show.objectId,
          key: `decode:${result.decodes}`,
          lowRes: result.lowRes.subarray(best * size, (best + 1) * size),
          ...req.show.style,
        },
      ]);
    }
    return { ...result, frame: drawn.frame, area, rendered };
  },
  render(req) {
    if (!image) throw new EngineError('no image', 'state');
    return (renderer as Renderer).render(model, image, req.masks);
  },
  attachOverlay(req) {
    const b = ready();
    overlay?.release();
    overlay = b.device ? GpuOverlay.create(b.device, req.canvas) : null;
    return overlay != null;
  },
  async present(req) {
    ready();
    if (!overlay) throw new EngineError('no WebGPU overlay attached', 'state');
    const t0 = performance.now();
    for (const layer of req.layers) overlay.setLayer(layer.objectId, layer.lowRes, layer);
    overlay.keep(new Set(req.keep));
    overlay.present();
    const frame = presented();
    const renderMs = performance.now() - t0;
    const areas = await overlay.areas(req.layers.map((l) => l.objectId));
    return { areas: [...areas], renderMs, frame };
  },
  export(req) {
    if (!image) throw new EngineError('no image', 'state');
    return exportMasks(image, req);
  },
  everything(req, call) {
    const c = current();
    return segmentEverything(ready(), c.model, c.image, req.options, call.signal, call.progress);
  },
  everythingMask(req) {
    return everythingMask(image, req.index, req.color);
  },
  everythingAdopt(req) {
    const c = current();
    return adoptEverything(c.model, c.image, req.index);
  },
  maskToLowRes(req) {
    const c = current();
    const { width, height } = c.image;
    if (req.bits.length !== width * height) {
      throw new EngineError(`the mask has ${req.bits.length} pixels, the image ${width}x${height}`, 'prompt');
    }
    return maskToLowRes(req.bits, width, height, c.model.family.mapping);
  },
  async videoLoad(req, call) {
    const b = ready();
    closeVideo('the tracking model was changed');
    videoModel?.release();
    videoModel = null;
    const t0 = performance.now();
    videoModel = await loadVideoModel(b, req.model, call.progress, call.signal);
    return { method: videoModel.predictor.method, hasMemory: videoModel.predictor.hasMemory, loadMs: performance.now() - t0 };
  },
  videoOpen(req) {
    ready();
    if (!videoModel) throw new EngineError('no tracking model loaded (videoLoad first)', 'state');
    closeVideo('another video was opened');
    tracker = new Tracker(videoModel, frameRequests.source(req.numFrames, req.width, req.height));
    return null;
  },
  videoPrompt(req) {
    ready();
    return (tracker ?? noTracker()).addPrompt(req.frameIdx, req.objId, req.prompt);
  },
  videoStart(req) {
    ready();
    return (tracker ?? noTracker()).start(req.startFrame, req.maxFrames, req.reverse, req.syncStages ?? false);
  },
  videoStep(req, call) {
    ready();
    throwIfCancelled(call.signal, 'tracking');
    return (tracker ?? noTracker()).step(req.frameIdx, req.reverse);
  },
  videoClearPrompts(req) {
    return (tracker ?? noTracker()).clearPrompts(req.frameIdx, req.objId);
  },
  videoRemoveObject(req) {
    (tracker ?? noTracker()).removeObject(req.objId);
    return null;
  },
  videoReset() {
    (tracker ?? noTracker()).reset();
    return null;
  },
  videoClose() {
    closeVideo('the video was closed');
    return null;
  },
  videoStats() {
    return (tracker ?? noTracker()).stats();
  },
  videoCheckPreprocessing(req) {
    return (tracker ?? noTracker()).checkPreprocessing(req.frameIdx);
  },
  cacheInfo: () => cacheInfo(),
  async clearCache() {
    await clearCache();
    return null;
  },
  loseDevice() {
    backend?.loseDevice();
    return null;
  },
  holdDecodes(req) {
    if (req.hold && !decodesHeld) {
      let release: () => void = () => {};
      const wait = new Promise<void>((resolve) => {
        release = resolve;
      });
      decodesHeld = { release, wait };
    } else if (!req.hold && decodesHeld) {
      decodesHeld.release();
      decodesHeld = null;
    }
    return null;
  },
  failNextCapture() {
    if (!model) throw new EngineError('no model loaded', 'state');
    model.decoders.failNextRecording();
    return null;
  },
};

// One request at a time, in order.
let queue: Promise<unknown> = Promise.resolve();
function enqueue(job: () => Promise<void>): void {
  queue = queue.then(job).catch(() => undefined);
}

const cancels = new Map<number, AbortController>();

async function answer(id: number, request: Request, controller: AbortController): Promise<void> {
  try {
    throwIfCancelled(controller.signal, `the ${request.type} request`);
    const handler = handlers[request.type] as (req: Request, call: Call<RequestType>) => Promise<Result<RequestType>> | Result<RequestType>;
    const result = await handler(request, {
      signal: controller.signal,
      progress: (progress) => post({ id, progress }, transferablesOf(progress)),
    });
    post({ id, ok: true, result }, transferablesOf(result));
  } catch (e) {
    const { error, code } = serializeError(e, backend?.lost ? 'device-lost' : 'internal');
    post({ id, ok: false, error, code });
  } finally {
    cancels.delete(id);
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if ('cancel' in message) {
    cancels.get(message.cancel)?.abort();
    return;
  }
  if ('frame' in message) {
    frameRequests.answer(message.frame, message.image, message.error);
    return;
  }
  const { id, request } = message;
  const controller = new AbortController();
  cancels.set(id, controller);
  if (IMMEDIATE.has(request.type)) void answer(id, request, controller);
  else enqueue(() => answer(id, request, controller));
};
