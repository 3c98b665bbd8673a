// Several files as one download (a YOLO dataset's data.yaml and labels/, a video's per-frame
// PNG masks): a stored (uncompressed) zip written by fflate; the entries are already compact.

import { zipSync } from 'fflate';

/** No clock in the archive: the same files give the same bytes. */
const FIXED_TIME = new Date(1980, 0, 1);

export function zipStore(files: { name: string; data: Uint8Array }[]): Blob {
  const entries: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {};
  for (const f of files) entries[f.name] = [f.data, { level: 0, mtime: FIXED_TIME }];
  return new Blob([zipSync(entries) as BlobPart], { type: 'application/zip' });
}
