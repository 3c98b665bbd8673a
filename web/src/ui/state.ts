// The user's work: objects with their prompts and masks, with undo/redo over whole snapshots.

import type { Box, Point } from '../engine';

const PALETTE: [number, number, number][] = [
  [30, 144, 255], [255, 99, 71], [50, 205, 50], [255, 215, 0], [186, 85, 211],
  [0, 206, 209], [255, 140, 0], [220, 20, 60], [124, 252, 0], [255, 105, 180],
];

export interface SegObject {
  id: number;
  name: string;
  color: [number, number, number];
  points: Point[];
  box: Box | null;
  /** Candidate masks from the last decode: low-res logits (256*256 each) and scores. */
  candidates: Float32Array[];
  scores: number[];
  chosen: number;
  version: number;
}

interface Snapshot { objects: SegObject[]; activeId: number }

export class Workspace {
  objects: SegObject[] = [];
  activeId = 0;
  private nextId = 1;
  private past: Snapshot[] = [];
  private future: Snapshot[] = [];

  constructor() { this.newObject(); }

  get active(): SegObject {
    return this.objects.find((o) => o.id === this.activeId)!;
  }

  newObject(): SegObject {
    const id = this.nextId++;
    const obj: SegObject = {
      id, name: `object ${id}`, color: PALETTE[(id - 1) % PALETTE.length],
      points: [], box: null, candidates: [], scores: [], chosen: 0, version: 0,
    };
    this.objects.push(obj);
    this.activeId = id;
    return obj;
  }

  // Objects' arrays are replaced, never mutated, so a shallow copy is a full snapshot.
  private snap(): Snapshot { return { objects: this.objects.map((o) => ({ ...o })), activeId: this.activeId }; }

  private restore(s: Snapshot) {
    this.objects = s.objects;
    this.activeId = s.activeId;
  }

  /** Remember the state before a change. */
  checkpoint() {
    this.past.push(this.snap());
    this.future = [];
  }

  undo(): boolean {
    const s = this.past.pop();
    if (!s) return false;
    this.future.push(this.snap());
    this.restore(s);
    return true;
  }

  redo(): boolean {
    const s = this.future.pop();
    if (!s) return false;
    this.past.push(this.snap());
    this.restore(s);
    return true;
  }

  clear() {
    this.checkpoint();
    this.objects = [];
    this.newObject();
  }

  /** A new image: nothing of the old one's work applies. */
  reset() {
    this.objects = [];
    this.nextId = 1;
    this.past = [];
    this.future = [];
    this.newObject();
  }

  remove(id: number) {
    this.checkpoint();
    this.objects = this.objects.filter((o) => o.id !== id);
    if (!this.objects.length) this.newObject();
    if (!this.objects.some((o) => o.id === this.activeId)) this.activeId = this.objects[this.objects.length - 1].id;
  }

  canUndo() { return this.past.length > 0; }
  canRedo() { return this.future.length > 0; }
}
