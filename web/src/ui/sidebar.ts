// The sidebar: the object list (select, rename, delete), the candidate masks of the active
// object, and the undo/redo buttons' state.

import type { SegObject, Workspace } from './state';

export interface SidebarHandlers {
  select(id: number): void;
  remove(id: number): void;
  rename(id: number, name: string): void;
  choose(id: number, index: number): void;
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;

export class Sidebar {
  /** Mask areas of the last render, by object id. */
  private areas = new Map<number, number>();

  constructor(private readonly on: SidebarHandlers) {}

  setAreas(areas: Map<number, number>): void {
    this.areas = areas;
  }

  get lastAreas(): Map<number, number> {
    return this.areas;
  }

  refresh(work: Workspace): void {
    $('object-list').replaceChildren(...work.objects.map((o) => this.entry(o, o.id === work.activeId)));
    this.refreshActive(work);
  }

  /** Only what depends on which object is active: the list is left as it is, so a double-click
   * on a name (whose first click selects) still lands on the same element. */
  refreshActive(work: Workspace): void {
    for (const li of $('object-list').querySelectorAll('li')) {
      li.className = Number((li as HTMLElement).dataset.objectId) === work.activeId ? 'active' : '';
    }
    const active = work.active;
    $('candidates').replaceChildren(
      ...(active.candidates.length > 1
        ? active.scores.map((s, i) => {
            const b = document.createElement('button');
            b.className = `candidate${i === active.chosen ? ' active' : ''}`;
            b.textContent = `Mask ${i + 1}: ${s.toFixed(2)}`;
            b.onclick = () => this.on.choose(active.id, i);
            return b;
          })
        : []),
    );
    ($('undo') as HTMLButtonElement).disabled = !work.canUndo();
    ($('redo') as HTMLButtonElement).disabled = !work.canRedo();
  }

  private entry(o: SegObject, active: boolean): HTMLLIElement {
    const li = document.createElement('li');
    li.className = active ? 'active' : '';
    li.dataset.objectId = String(o.id);
    // The exact prompts and the mask shown, for tools and tests that replay them elsewhere;
    // `current` says whether the mask is the one for these prompts (false while it is decoded).
    li.dataset.prompts = JSON.stringify({
      points: o.points,
      box: o.box,
      chosen: o.chosen,
      scores: o.scores,
      current: o.maskRev === o.promptRev,
      name: o.name,
    });
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = `rgb(${o.color.join(',')})`;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = o.name;
    name.title = 'Double-click to rename';
    name.ondblclick = (e) => {
      e.stopPropagation();
      this.editName(name, o);
    };
    const meta = document.createElement('span');
    meta.className = 'meta';
    const area = this.areas.get(o.id);
    meta.textContent =
      `${o.scores.length ? ` · score ${o.scores[o.chosen].toFixed(2)}` : ''}` +
      `${area !== undefined ? ` · ${area.toLocaleString()} px` : ''}`;
    const del = document.createElement('button');
    del.className = 'delete';
    del.textContent = '×';
    del.title = `Delete ${o.name}`;
    del.onclick = (e) => {
      e.stopPropagation();
      this.on.remove(o.id);
    };
    li.append(swatch, name, meta, del);
    li.onclick = () => this.on.select(o.id);
    return li;
  }

  private editName(label: HTMLElement, o: SegObject) {
    const input = document.createElement('input');
    input.className = 'rename';
    input.value = o.name;
    input.maxLength = 200;
    let done = false;
    const finish = (keep: boolean) => {
      if (done) return;
      done = true;
      if (keep) this.on.rename(o.id, input.value);
      else input.replaceWith(label);
    };
    input.onkeydown = (e) => {
      e.stopPropagation(); // Ctrl+Z in the field is the field's own undo
      if (e.key === 'Enter') finish(true);
      if (e.key === 'Escape') finish(false);
    };
    input.onblur = () => finish(true);
    input.onclick = (e) => e.stopPropagation();
    label.replaceWith(input);
    input.focus();
    input.select();
  }
}
