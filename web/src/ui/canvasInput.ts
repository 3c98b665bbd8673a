// Pointer input on the stage: a click adds a point (right- or Alt-click: a negative one), a drag
// draws a box, moving the pointer asks for a hover preview. Coordinates are image pixels.

import type { Box } from '../engine';

export interface CanvasInputHandlers {
  /** The image's size, or null while there is no image. */
  imageSize(): { width: number; height: number } | null;
  /** A press began at (x, y) (a click or a drag may follow). */
  press(x: number, y: number): void;
  click(x: number, y: number, negative: boolean): void;
  box(box: Box): void;
  hover(x: number, y: number): void;
  /** The pointer left, or a press began: any preview goes. */
  leave(): void;
  dragging(box: Box): void;
}

export const boxOf = (a: [number, number], b: [number, number]): Box => [
  Math.min(a[0], b[0]),
  Math.min(a[1], b[1]),
  Math.max(a[0], b[0]),
  Math.max(a[1], b[1]),
];

export class CanvasInput {
  private dragStart: [number, number] | null = null;
  private moved = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly on: CanvasInputHandlers,
  ) {
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointerleave', () => on.leave());
  }

  /** Whether a press (click or drag) is under way: previews wait for it. */
  get pressed(): boolean {
    return this.dragStart !== null;
  }

  private toImage(e: PointerEvent): [number, number] | null {
    const size = this.on.imageSize();
    if (!size) return null;
    const rect = this.canvas.getBoundingClientRect();
    const x = ((e.clientX - rect.left) * size.width) / rect.width;
    const y = ((e.clientY - rect.top) * size.height) / rect.height;
    return [Math.min(Math.max(x, 0), size.width), Math.min(Math.max(y, 0), size.height)];
  }

  private down(e: PointerEvent) {
    const p = this.toImage(e);
    if (!p) return;
    this.canvas.setPointerCapture(e.pointerId);
    this.dragStart = p;
    this.moved = false;
    this.on.press(p[0], p[1]);
  }

  private move(e: PointerEvent) {
    const p = this.toImage(e);
    const size = this.on.imageSize();
    if (!p || !size) return;
    if (this.dragStart) {
      const threshold = (6 * size.width) / this.canvas.getBoundingClientRect().width;
      if (Math.hypot(p[0] - this.dragStart[0], p[1] - this.dragStart[1]) > threshold) this.moved = true;
      if (this.moved) this.on.dragging(boxOf(this.dragStart, p));
      return;
    }
    this.on.hover(p[0], p[1]);
  }

  private up(e: PointerEvent) {
    const start = this.dragStart;
    const end = this.toImage(e);
    this.dragStart = null;
    if (!start || !end) return;
    this.on.leave();
    if (this.moved) this.on.box(boxOf(start, end));
    else this.on.click(start[0], start[1], e.button === 2 || e.altKey);
  }
}
