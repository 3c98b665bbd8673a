// Where a model's files come from. A server gives one URL per file (`urls`); a static site
// (`sam2web build-site`) may split a file into consecutive parts of `part_bytes` each (the last
// shorter), for hosts that cap a file's size: `parts[role]`. The parts are fetched in order into
// one cached file, verified against the whole file's sha256 as any model file is.

import { EngineError } from './errors';
import type { ModelFile, ModelInfo } from './protocol';

/** The file of `role` as the model cache fetches it. */
export function modelFile(model: ModelInfo, role: string): ModelFile {
  const entry = model.manifest.files[role];
  const url = model.urls[role];
  if (!url || !entry) throw new EngineError(`model ${model.id}: the server gives no URL for its ${role}`, 'bundle');
  const split = model.parts?.[role];
  const file: ModelFile = { url, bytes: entry.bytes, sha256: entry.sha256 };
  if (split) {
    const expected = Math.ceil(entry.bytes / split.part_bytes);
    if (!(split.part_bytes > 0) || split.urls.length !== expected) {
      throw new EngineError(`model ${model.id}: its ${role} is listed in ${split.urls.length} parts, not ${expected}`, 'bundle');
    }
    file.parts = { partBytes: split.part_bytes, urls: split.urls };
  }
  return file;
}

/** Where byte `offset` of the file is: the URL to fetch and the offset inside what it serves. */
export function locate(file: ModelFile, offset: number): { url: string; start: number; end: number } {
  if (!file.parts) return { url: file.url, start: offset, end: file.bytes };
  const { partBytes, urls } = file.parts;
  const k = Math.min(Math.floor(offset / partBytes), urls.length - 1);
  return { url: urls[k], start: offset - k * partBytes, end: Math.min(file.bytes, (k + 1) * partBytes) };
}

/** The model with every file URL made absolute against `base` (the page's URL): the worker that
 * fetches them lives elsewhere (assets/), and a static site lists its files relative to itself. */
export function withAbsoluteUrls(model: ModelInfo, base: string): ModelInfo {
  const abs = (u: string) => new URL(u, base).href;
  const urls = Object.fromEntries(Object.entries(model.urls).map(([role, u]) => [role, abs(u)]));
  const parts = model.parts
    ? Object.fromEntries(Object.entries(model.parts).map(([role, p]) => [role, { ...p, urls: p.urls.map(abs) }]))
    : undefined;
  return { ...model, urls, ...(parts ? { parts } : {}) };
}
