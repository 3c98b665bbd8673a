// The page's "Segment everything" action: runs the engine's automatic mask generator on the
// current image, shows each batch's new masks as they come, then every mask in a colour of its
// own on a canvas of its own above the objects' overlays. Hovering highlights the mask under the
// pointer (drawn by the engine), a click makes it an object (then refine it with points as any
// object), "COCO JSON" saves them all. All pixel work happens in the engine's worker.

import type { AdoptResult, EverythingProgress, EverythingResult, Sam2Engine } from '../engine';
import { EngineError, everythingCoco } from '../engine';
import { status } from './notices';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export interface EverythingHost {
  engine(): Sam2Engine;
  /** Whether the current image is encoded (the run needs its features). */
  ready(): boolean;
  imageName(): string;
  modelId(): string;
  /** A mask made an object. */
  adopt(result: AdoptResult): void;
}

export class EverythingPanel {
  private readonly canvas: HTMLCanvasElement;
  private abort: AbortController | null = null;
  private result: EverythingResult | null = null;
  private hovered = -1;
  private hoverBusy = false;
  private shown = false;

  constructor(private readonly host: EverythingHost) {
    this.canvas = document.createElement('canvas');
    this.canvas.id = 'everything-canvas';
    this.canvas.style.cssText = 'position:absolute;left:0;top:0;width:100%;height:100%;max-height:none;pointer-events:none';
    $('overlay-canvas').after(this.canvas);
    $('everything-run').onclick = () => void this.run();
    $('everything-cancel').onclick = () => this.abort?.abort();
    $('everything-hide').onclick = () => this.hide();
    $('export-everything').onclick = () => this.download();
    this.setState('idle');
  }

  /** Whether masks are shown (then the stage's clicks and hovers are this panel's). */
  get active(): boolean {
    return this.shown && this.result !== null;
  }

  private setState(state: 'idle' | 'running' | 'done' | 'cancelled' | 'error'): void {
    document.body.dataset.everything = state === 'done' ? `done:${this.result?.masks.length ?? 0}` : state;
    $<HTMLButtonElement>('everything-run').disabled = state === 'running';
    $('everything-cancel').hidden = state !== 'running';
    $('everything-hide').hidden = !this.active;
    $<HTMLButtonElement>('export-everything').disabled = !this.result?.masks.length;
  }

  async run(): Promise<void> {
    if (!this.host.ready()) {
      status('Wait for the image to be encoded.');
      return;
    }
    this.reset();
    const abort = new AbortController();
    this.abort = abort;
    const { width, height } = $<HTMLCanvasElement>('image-canvas');
    this.canvas.width = width;
    this.canvas.height = height;
    this.shown = true;
    this.setState('running');
    status('Segmenting everything…');
    const t0 = performance.now();
    try {
      const pointsPerSide = Number($<HTMLSelectElement>('everything-grid').value) || 32;
      const result = await this.host
        .engine()
        .segmentEverything({ pointsPerSide }, { signal: abort.signal, onProgress: (p) => this.progress(p) });
      if (this.abort !== abort) {
        result?.colorMap.close();
        return;
      }
      this.abort = null;
      if (!result) return this.reset(); // a newer image or model came in
      this.result = result;
      this.paint();
      this.setState('done');
      status(
        `${result.masks.length} masks in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
          `(${result.decoderRuns} decoder runs, ${result.batched ? `batches of ${result.batchSize}` : 'one point per run'}; ` +
          `decode ${(result.decodeMs / 1000).toFixed(1)} s). Hover to see one, click to make it an object.`,
      );
    } catch (e) {
      if (this.abort !== abort) return;
      this.abort = null;
      this.shown = false;
      this.clearCanvas();
      const cancelled = e instanceof EngineError && e.code === 'cancelled';
      this.setState(cancelled ? 'cancelled' : 'error');
      status(cancelled ? 'Segment everything stopped.' : `Segment everything failed: ${(e as Error).message}`, !cancelled);
    }
  }

  private progress(p: EverythingProgress): void {
    if (p.phase === 'model') {
      status('Segmenting everything: opening the batch decoder…');
      return;
    }
    if (p.layer) {
      this.canvas.getContext('2d')?.drawImage(p.layer, 0, 0);
      p.layer.close();
    }
    status(`Segmenting everything: ${p.done} / ${p.total} points, ${p.candidates} masks so far…`);
  }

  private clearCanvas(): void {
    this.canvas.getContext('2d')?.clearRect(0, 0, this.canvas.width, this.canvas.height);
  }

  /** The colour map, and the hovered mask over it. */
  private paint(highlight?: ImageBitmap): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx || !this.result) return;
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.globalAlpha = highlight ? 0.45 : 1;
    ctx.drawImage(this.result.colorMap, 0, 0);
    ctx.globalAlpha = 1;
    if (highlight) ctx.drawImage(highlight, 0, 0);
  }

  /** The mask under image pixel (x, y), or -1. */
  maskAt(x: number, y: number): number {
    const r = this.result;
    if (!r) return -1;
    const px = Math.min(r.width - 1, Math.floor(x)),
      py = Math.min(r.height - 1, Math.floor(y));
    return r.labels[py * r.width + px] - 1;
  }

  /** A hover: highlights the mask under the pointer. Returns whether the panel took it. */
  hover(x: number, y: number): boolean {
    if (!this.active) return false;
    const index = this.maskAt(x, y);
    if (index === this.hovered || this.hoverBusy) return true;
    this.hovered = index;
    document.body.dataset.everythingHover = String(index);
    if (index < 0) {
      this.paint();
      return true;
    }
    this.hoverBusy = true;
    void this.host
      .engine()
      .everythingMask(index, [255, 255, 255])
      .then((bitmap) => {
        if (this.hovered === index && this.active) this.paint(bitmap);
        bitmap.close();
      })
      .catch(() => undefined)
      .finally(() => {
        this.hoverBusy = false;
      });
    return true;
  }

  leave(): void {
    if (!this.active || this.hovered < 0) return;
    this.hovered = -1;
    this.paint();
  }

  /** A click: the mask under it becomes an object. Returns whether the panel took the click. */
  click(x: number, y: number): boolean {
    if (!this.active) return false;
    const index = this.maskAt(x, y);
    if (index < 0) return true; // no mask there: nothing to adopt
    void this.host
      .engine()
      .adoptEverything(index)
      .then((r) => {
        this.hide();
        this.host.adopt(r);
        status(`Mask ${index + 1} is now an object (its point's candidate at IoU ${r.iou.toFixed(3)}); click to refine it.`);
      })
      .catch((e) => status(`Could not use that mask: ${(e as Error).message}`, true));
    return true;
  }

  /** Hides the masks (the result is kept for export until the image changes). */
  hide(): void {
    this.shown = false;
    this.hovered = -1;
    this.clearCanvas();
    this.setState(this.result ? 'done' : 'idle');
  }

  /** A new image or model: any run stops, its masks go. */
  reset(): void {
    this.abort?.abort();
    this.abort = null;
    this.result?.colorMap.close();
    this.result = null;
    this.hide();
  }

  private download(): void {
    if (!this.result) return;
    const json = everythingCoco(this.result, this.host.imageName(), this.host.modelId());
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob([json], { type: 'application/json' }));
    a.download = `${this.host.imageName().replace(/\.[^.]+$/, '')}-everything.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    status(`Saved ${a.download} (${this.result.masks.length} masks).`);
  }
}
