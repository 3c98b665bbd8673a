// The page's telemetry: `data-*` attributes on <body> that the browser tests and the benchmarks
// (benchmarks/browser_clicks.py, shared/tools/gpu-browser/app_bench.py) read. One place, so the
// names a test waits for are the names the app writes.

import type { DecodeResult, EncodeResult } from '../engine';

const data = () => document.body.dataset;
const stamp = () => String(Date.now());

export const telemetry = {
  /** The model is loaded (or the app says why not): the page is usable. */
  ready(): void {
    data().ready = 'true';
  },
  /** Whether the engine draws the masks on its own canvas (WebGPU), or why not. */
  overlay(whyNot: string): void {
    data().engineOverlay = whyNot ? `no: ${whyNot}` : 'yes';
  },
  encoded(r: EncodeResult): void {
    const d = data();
    d.encoded = stamp();
    d.encodes = String(Number(d.encodes ?? 0) + 1);
    d.featuresLocation = r.featuresLocation;
    d.encodeMs = r.encodeMs.toFixed(1);
  },
  decoded(r: DecodeResult): void {
    const d = data();
    d.captured = String(r.captured);
    d.captureFailure = r.captureFailure;
    d.sessions = String(r.sessions);
    d.gpuBuffers = String(r.gpuBuffers);
    d.decodes = String(r.decodes);
    d.decodeMs = r.decodeMs.toFixed(2);
    d.decoded = stamp();
  },
  /** A preview's decode: counted, not shown as a click's. */
  counted(r: DecodeResult): void {
    data().decodes = String(r.decodes);
  },
  /** A decoder result that arrived for prompts no longer shown (undone, or superseded). */
  discarded(): void {
    data().discarded = String(Number(data().discarded ?? 0) + 1);
  },
  drawn(renderer: string, renderMs: number): void {
    data().renderer = renderer;
    data().renderMs = renderMs.toFixed(2);
  },
  rendered(): void {
    data().rendered = stamp();
  },
  /** Prompt -> mask on screen (the start of the screen's frame that shows it: the page's next
   * animation frame after drawing, or `shownAt` where the engine drew on its own canvas), for the
   * benchmarks, and where the time went: the decode's round trip to the worker (of which the
   * session run), the overlay's render round trip, and the wait for the frame that shows it.
   * `direct`: the engine drew the mask from the decoder's output on the GPU, before the result
   * came back to the page (the round trips then come after the paint). */
  painted(sinceMs: number, at: { decoded: number; drawn: number; decodeMs: number }, shownAt?: number, direct = false): void {
    const now = shownAt ?? performance.now();
    const d = data();
    d.clickToPaintMs = (now - sinceMs).toFixed(2);
    d.paints = String(Number(d.paints ?? 0) + 1);
    d.clickBreakdown = JSON.stringify({
      path: direct ? 'gpu-direct' : shownAt !== undefined ? 'gpu-overlay' : 'bitmap',
      decode_roundtrip_ms: +(at.decoded - sinceMs).toFixed(2),
      decode_run_ms: +at.decodeMs.toFixed(2),
      render_roundtrip_ms: +(at.drawn - at.decoded).toFixed(2),
      render_ms: Number(d.renderMs ?? 0),
      frame_wait_ms: direct ? null : +(now - at.drawn).toFixed(2),
    });
    d.firstMaskAt ??= now.toFixed(1); // ms since the page was opened
  },
  previewed(x: number, y: number, area: number): void {
    const d = data();
    d.previewArea = String(area);
    d.previewed = `${x.toFixed(3)},${y.toFixed(3)}@${Date.now()}`;
    d.previews = String(Number(d.previews ?? 0) + 1);
  },
};
