// The camera as a video source: a live preview (getUserMedia), a click on an object starts
// tracking it in real time, frame by frame on the frames as they come. The engine sees an
// open-ended video whose frame i is the camera's picture at the moment the engine asks for it:
// while the model works on one frame the camera's frames in between are dropped, so tracking
// keeps up with the present however slow the device is (frames/s shown). The built-in model
// re-prompts each frame from the last (frame by frame); SAM2 bundles track with their memory bank
// (kept to the frames it needs, as for a file).

import type { ObjectMask, Sam2Engine, VideoSession } from '../../engine';

/** Frames the engine may ask for in one camera run (a day at 30 frames/s would be 2.6 million;
 * a run this long starts over on its own). */
export const CAMERA_RUN_FRAMES = 100_000;

export class CameraError extends Error {}

/** getUserMedia's failure in words a person can act on. */
export function cameraMessage(e: unknown): string {
  const name = (e as DOMException)?.name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return "Camera access was denied. Allow the camera for this page in the browser's site settings, then press Camera again.";
  if (name === 'NotFoundError' || name === 'OverconstrainedError')
    return 'No camera was found: connect one (or enable it), then press Camera again.';
  if (name === 'NotReadableError' || name === 'AbortError')
    return 'The camera is busy or could not start (another application may be using it): close that, then press Camera again.';
  return `The camera could not start: ${(e as Error)?.message ?? e}`;
}

export interface CameraView {
  /** Called with each new tracked frame's masks (frame index in this run, every object). */
  onMasks(masks: ObjectMask[], frameIdx: number, fps: number): void;
  /** The run ended: '' when stopped, else why. */
  onEnd(error: string): void;
}

export class Camera {
  readonly stream: MediaStream;
  readonly video: HTMLVideoElement;
  readonly width: number;
  readonly height: number;
  private session: VideoSession | null = null;
  private run: AbortController | null = null;
  private runDone: Promise<void> = Promise.resolve();
  private stamps: number[] = [];
  /** The clicked picture (frame 0 of the run). */
  private first: ImageBitmap | null = null;

  private constructor(stream: MediaStream, video: HTMLVideoElement) {
    this.stream = stream;
    this.video = video;
    this.width = video.videoWidth;
    this.height = video.videoHeight;
  }

  /** Opens the default camera -> a playing preview; throws CameraError with a clear message. */
  static async open(): Promise<Camera> {
    if (!navigator.mediaDevices?.getUserMedia)
      throw new CameraError(
        'This browser gives no camera to this page (a camera needs https or localhost, and a browser with getUserMedia).',
      );
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (e) {
      throw new CameraError(cameraMessage(e));
    }
    const video = document.createElement('video');
    video.muted = true;
    video.playsInline = true;
    video.srcObject = stream;
    try {
      await video.play();
      if (!video.videoWidth) await new Promise((r) => video.addEventListener('loadedmetadata', r, { once: true }));
    } catch (e) {
      for (const t of stream.getTracks()) t.stop();
      throw new CameraError(`The camera's picture could not be shown: ${(e as Error).message}`);
    }
    return new Camera(stream, video);
  }

  /** The camera's picture now. */
  grab(): Promise<ImageBitmap> {
    return createImageBitmap(this.video);
  }

  get tracking(): boolean {
    return this.run !== null;
  }

  /** Starts tracking one object from a click at (x, y) in the camera's pixels on the picture of
   * this moment; a run already going is stopped first. */
  async track(engine: Sam2Engine, x: number, y: number, view: CameraView): Promise<void> {
    await this.stopTracking();
    const first = await this.grab();
    this.first?.close();
    this.first = first;
    const session = await engine.openVideo({
      numFrames: CAMERA_RUN_FRAMES,
      width: this.width,
      height: this.height,
      // frame 0: the clicked picture; every later frame: the camera's picture when it is asked for
      frame: (i) => (i === 0 ? createImageBitmap(first) : this.grab()),
    });
    this.session = session;
    const result = await session.addPrompt(0, 1, { points: [[x, y, 1]] });
    this.stamps = [performance.now()];
    view.onMasks(result.masks, 0, 0);
    const run = new AbortController();
    this.run = run;
    let finished: () => void = () => {};
    this.runDone = new Promise((r) => {
      finished = r;
    });
    void (async () => {
      let error = '';
      try {
        // from the prompted frame: the frame-by-frame tracker carries its mask to the next one
        for await (const r of session.propagate({ direction: 'forward', startFrame: 0, signal: run.signal })) {
          const now = performance.now();
          this.stamps.push(now);
          while (this.stamps.length > 2 && now - this.stamps[0] > 2000) this.stamps.shift(); // the last 2 s
          const fps = this.stamps.length > 1 ? ((this.stamps.length - 1) * 1000) / (now - this.stamps[0]) : 0;
          view.onMasks(r.masks, r.frameIdx, fps);
        }
      } catch (e) {
        if (!run.signal.aborted) error = (e as Error).message ?? String(e);
      } finally {
        if (this.run === run) this.run = null;
        finished();
        view.onEnd(error);
      }
    })();
  }

  async stopTracking(): Promise<void> {
    this.run?.abort();
    await this.runDone;
    this.run = null;
  }

  /** Stops tracking and the camera. */
  async close(): Promise<void> {
    await this.stopTracking();
    await this.session?.close().catch(() => null);
    this.session = null;
    for (const t of this.stream.getTracks()) t.stop();
    this.video.srcObject = null;
    this.first?.close();
    this.first = null;
  }
}
