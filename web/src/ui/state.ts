// The user's work: objects with their prompts and masks. Every edit is a Workspace command (which
// records undo history); decoder results come back through `applyDecode`, addressed to the
// object and the prompt revision they were decoded for, wherever that revision now lives (the
// current state, or a step of the undo/redo history), so an undo or redo during a decode never
// pairs prompts with another prompt's mask.

import type { Box, Point } from '../engine';

const PALETTE: [number, number, number][] = [
  [30, 144, 255],
  [255, 99, 71],
  [50, 205, 50],
  [255, 215, 0],
  [186, 85, 211],
  [0, 206, 209],
  [255, 140, 0],
  [220, 20, 60],
  [124, 252, 0],
  [255, 105, 180],
];

export interface SegObject {
  id: number;
  name: string;
  color: [number, number, number];
  points: Point[];
  box: Box | null;
  /** Names this object's prompts: a new value for every prompt change, never reused. */
  promptRev: number;
  /** The revision these prompts were edited from: its mask is the refinement input. */
  parentRev: number;
  /** Candidate masks from the decode of `maskRev`: low-res logits (256*256 each) and scores. */
  candidates: Float32Array[];
  scores: number[];
  chosen: number;
  /** The prompt revision the candidates were decoded for (0: none). */
  maskRev: number;
  /** Names the shown mask (render and export caches): new for every mask or choice. */
  version: number;
  /** Made from an imported mask: its clicks refine that mask (even the first one). */
  imported?: boolean;
}

interface Snapshot {
  objects: SegObject[];
  activeId: number;
}

// Revisions and versions are unique across the page's life (never reused after an undo or a new
// image), so one value always names one prompt state or one mask.
let counter = 0;
const next = () => ++counter;

export const hasPrompts = (o: SegObject) => o.points.length > 0 || o.box !== null;

export class Workspace {
  objects: SegObject[] = [];
  activeId = 0;
  private nextId = 1;
  private past: Snapshot[] = [];
  private future: Snapshot[] = [];

  constructor() {
    this.create();
  }

  get active(): SegObject {
    return this.find(this.activeId) ?? this.objects[this.objects.length - 1];
  }

  find(id: number): SegObject | undefined {
    return this.objects.find((o) => o.id === id);
  }

  // ---- commands (each one undoable) ----------------------------------------------------------

  addPoint(point: Point): SegObject {
    return this.editPrompts((o) => {
      o.points = [...o.points, point];
    });
  }

  setBox(box: Box): SegObject {
    return this.editPrompts((o) => {
      o.box = box;
    });
  }

  chooseCandidate(id: number, index: number): void {
    const o = this.find(id);
    if (!o || index < 0 || index >= o.candidates.length || index === o.chosen) return;
    this.checkpoint();
    this.replace(id, { chosen: index, version: next() });
  }

  newObject(): SegObject {
    this.checkpoint();
    return this.create();
  }

  /** A mask made elsewhere (segment everything) as an object: its point and the decoder's
   * candidates for it, `chosen` shown. The active object takes it while it is still empty. */
  adopt(point: Point, candidates: Float32Array[], scores: number[], chosen: number): SegObject {
    this.checkpoint();
    const empty = !hasPrompts(this.active) && !this.active.candidates.length;
    const o = empty ? this.active : this.create();
    this.activeId = o.id;
    const rev = next(); // prompts and mask of one revision: nothing to decode
    return this.replace(o.id, {
      points: [point],
      box: null,
      promptRev: rev,
      maskRev: rev,
      parentRev: 0,
      candidates,
      scores,
      chosen,
      version: next(),
    });
  }

  /** Imported masks (their low-res logits) as new objects, one undo step for all of them. */
  importMasks(masks: { name: string; lowRes: Float32Array }[]): void {
    if (!masks.length) return;
    this.checkpoint();
    const first = !hasPrompts(this.active) && !this.active.candidates.length ? this.active.id : null;
    masks.forEach((m, i) => {
      const o = i === 0 && first !== null ? this.active : this.create();
      const rev = next(); // a mask with no prompts behind it: nothing to decode
      this.replace(o.id, { name: m.name.trim() || o.name, promptRev: rev, maskRev: rev, parentRev: 0 });
      this.replace(o.id, { candidates: [m.lowRes], scores: [1], chosen: 0, version: next(), imported: true });
    });
  }

  rename(id: number, name: string): void {
    const o = this.find(id);
    const trimmed = name.trim();
    if (!o || !trimmed || trimmed === o.name) return;
    this.checkpoint();
    this.replace(id, { name: trimmed });
  }

  remove(id: number): void {
    if (!this.find(id)) return;
    this.checkpoint();
    this.objects = this.objects.filter((o) => o.id !== id);
    if (!this.objects.length) this.create();
    if (!this.find(this.activeId)) this.activeId = this.objects[this.objects.length - 1].id;
  }

  clear(): void {
    this.checkpoint();
    this.objects = [];
    this.create();
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

  // ---- not undoable --------------------------------------------------------------------------

  select(id: number): void {
    if (this.find(id)) this.activeId = id;
  }

  /** A new image: nothing of the old one's work applies. */
  reset(): void {
    this.objects = [];
    this.nextId = 1;
    this.past = [];
    this.future = [];
    this.create();
  }

  /**
   * A decoder result for object `id` at prompt revision `promptRev`: stored in every state that
   * holds that object at that revision (now, and in the undo/redo history). Returns whether the
   * current state changed; false means the result was for prompts that are no longer shown.
   */
  applyDecode(id: number, promptRev: number, candidates: Float32Array[], scores: number[]): boolean {
    const chosen = scores.indexOf(Math.max(...scores));
    const mask = { candidates, scores, chosen, maskRev: promptRev, version: next() };
    let current = false;
    for (const objects of [this.objects, ...this.past.map((s) => s.objects), ...this.future.map((s) => s.objects)]) {
      objects.forEach((o, i) => {
        if (o.id !== id || o.promptRev !== promptRev) return;
        objects[i] = { ...o, ...mask };
        if (objects === this.objects) current = true;
      });
    }
    return current;
  }

  /** The mask shown for object `id` at prompt revision `rev` (the most recent state that has it:
   * now, then back through the history), or null if that revision was never decoded. */
  maskOf(id: number, rev: number): Float32Array | null {
    const states = [this.objects, ...this.past.map((s) => s.objects).reverse(), ...this.future.map((s) => s.objects)];
    for (const objects of states) {
      const o = objects.find((x) => x.id === id && x.promptRev === rev && x.maskRev === rev && x.candidates.length);
      if (o) return o.candidates[o.chosen];
    }
    return null;
  }

  /** Objects whose mask is not (yet) the one for their prompts: they need decoding. */
  stale(): SegObject[] {
    return this.objects.filter((o) => (hasPrompts(o) ? o.maskRev !== o.promptRev : o.candidates.length > 0 && !o.imported));
  }

  /** Drops the mask of an object that has no prompts left. */
  dropMask(id: number): void {
    const o = this.find(id);
    if (o && !hasPrompts(o)) this.replace(id, { candidates: [], scores: [], chosen: 0, maskRev: o.promptRev, version: next() });
  }

  canUndo(): boolean {
    return this.past.length > 0;
  }

  canRedo(): boolean {
    return this.future.length > 0;
  }

  // ---- internals -----------------------------------------------------------------------------

  private create(): SegObject {
    const id = this.nextId++;
    const o: SegObject = {
      id,
      name: `object ${id}`,
      color: PALETTE[(id - 1) % PALETTE.length],
      points: [],
      box: null,
      promptRev: next(),
      parentRev: 0,
      candidates: [],
      scores: [],
      chosen: 0,
      maskRev: 0,
      version: next(),
    };
    o.maskRev = o.promptRev; // no prompts, no mask: up to date
    this.objects = [...this.objects, o];
    this.activeId = id;
    return o;
  }

  /** Objects are replaced, never mutated, so a shallow copy of the list is a snapshot. */
  private replace(id: number, change: Partial<SegObject>): SegObject {
    const i = this.objects.findIndex((o) => o.id === id);
    const changed = { ...this.objects[i], ...change };
    this.objects = this.objects.map((o, k) => (k === i ? changed : o));
    return changed;
  }

  private editPrompts(edit: (o: SegObject) => void): SegObject {
    this.checkpoint();
    const o = { ...this.active };
    edit(o);
    return this.replace(o.id, { points: o.points, box: o.box, parentRev: o.promptRev, promptRev: next() });
  }

  private snap(): Snapshot {
    return { objects: [...this.objects], activeId: this.activeId };
  }

  private restore(s: Snapshot) {
    this.objects = s.objects;
    this.activeId = s.activeId;
  }

  private checkpoint() {
    this.past.push(this.snap());
    this.future = [];
  }
}
