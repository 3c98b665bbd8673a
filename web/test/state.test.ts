import { describe, expect, it } from 'vitest';
import { Workspace } from '../src/ui/state';

const mask = (v: number) => [new Float32Array(4).fill(v)];

describe('Workspace: decoder results go to the object and prompts they were asked for', () => {
  it('an undo during a decode, then redo, shows the new points with the new mask', () => {
    const work = new Workspace();
    const first = work.addPoint([1, 1, 1]);
    expect(work.applyDecode(first.id, first.promptRev, mask(1), [0.9])).toBe(true);
    const second = work.addPoint([2, 2, 1]); // a click whose decode is still running...
    work.undo(); // ...is undone meanwhile
    expect(work.applyDecode(second.id, second.promptRev, mask(2), [0.8])).toBe(false); // not shown now
    expect(work.active.points).toHaveLength(1);
    expect(work.active.candidates[0][0]).toBe(1);
    work.redo();
    expect(work.active.points).toHaveLength(2);
    expect(work.active.candidates[0][0]).toBe(2); // the mask decoded for these two points
    expect(work.stale()).toEqual([]);
  });

  it('a redo before the decode ends shows the object as stale until its result arrives', () => {
    const work = new Workspace();
    const a = work.addPoint([1, 1, 1]);
    work.applyDecode(a.id, a.promptRev, mask(1), [0.9]);
    const b = work.addPoint([2, 2, 1]);
    work.undo();
    work.redo();
    expect(work.stale().map((o) => o.id)).toEqual([b.id]);
    expect(work.applyDecode(b.id, b.promptRev, mask(2), [0.5])).toBe(true);
    expect(work.stale()).toEqual([]);
  });

  it('a result for an older revision never replaces a newer mask', () => {
    const work = new Workspace();
    const a = work.addPoint([1, 1, 1]);
    const b = work.addPoint([2, 2, 1]);
    work.applyDecode(b.id, b.promptRev, mask(2), [0.5]);
    expect(work.applyDecode(a.id, a.promptRev, mask(1), [0.9])).toBe(false);
    expect(work.active.candidates[0][0]).toBe(2);
  });

  it('results for another object land on that object only', () => {
    const work = new Workspace();
    const one = work.addPoint([1, 1, 1]);
    work.newObject();
    const two = work.addPoint([5, 5, 1]);
    expect(work.applyDecode(one.id, one.promptRev, mask(1), [0.9])).toBe(true);
    expect(work.find(two.id)?.candidates).toEqual([]);
    expect(work.find(one.id)?.candidates[0][0]).toBe(1);
  });

  it('renames, chooses candidates and removes as undoable commands', () => {
    const work = new Workspace();
    const o = work.addPoint([1, 1, 1]);
    work.applyDecode(o.id, o.promptRev, [...mask(1), ...mask(2), ...mask(3)], [0.2, 0.9, 0.5]);
    expect(work.active.chosen).toBe(1);
    work.chooseCandidate(o.id, 2);
    work.rename(o.id, '  cat "Tom"  ');
    expect(work.active.name).toBe('cat "Tom"');
    work.remove(o.id);
    expect(work.objects.map((x) => x.name)).toEqual(['object 2']);
    work.undo();
    work.undo();
    expect(work.active.name).toBe('object 1');
    expect(work.active.chosen).toBe(2);
  });
});

describe('Workspace: refinement input', () => {
  it('is the mask of the prompts an edit was made from, once that mask has arrived', () => {
    const work = new Workspace();
    const a = work.addPoint([1, 1, 1]);
    const b = work.addPoint([2, 2, 1]); // clicked before a's mask arrived
    expect(b.parentRev).toBe(a.promptRev);
    expect(work.maskOf(b.id, b.parentRev)).toBeNull();
    work.applyDecode(a.id, a.promptRev, mask(1), [0.9]); // lands in the history only...
    expect(work.maskOf(b.id, b.parentRev)?.[0]).toBe(1); // ...and is b's refinement input
    work.undo();
    const c = work.addPoint([3, 3, 1]); // a new branch from a
    expect(work.maskOf(c.id, c.parentRev)?.[0]).toBe(1);
  });
});
