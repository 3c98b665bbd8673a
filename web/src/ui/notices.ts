// The status line, notices above the stage, and the download progress bar.

import type { LoadProgress } from '../engine';

const $ = (id: string) => document.getElementById(id) as HTMLElement;

export const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export function status(text: string, error = false): void {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', error);
}

/** Shows (or with null removes) the notice `id`; text only, never markup. */
export function notice(id: string, text: string | null, error = false): void {
  document.getElementById(`notice-${id}`)?.remove();
  if (text === null) return;
  const div = document.createElement('div');
  div.id = `notice-${id}`;
  div.className = `notice${error ? ' error' : ''}`;
  div.textContent = text;
  $('notices').append(div);
}

export function showProgress(p: LoadProgress | null): void {
  const box = $('progress');
  if (!p || (p.phase !== 'download' && p.phase !== 'wait')) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $('progress-bar').style.width = `${((100 * p.loaded) / p.total).toFixed(1)}%`;
  $('progress-text').textContent =
    p.phase === 'wait'
      ? `Waiting for another tab downloading the ${p.file}…`
      : `Downloading ${p.file}: ${mb(p.loaded)} / ${mb(p.total)} (${mb(p.bytesPerSecond)}/s)`;
}
