// Model files cached in the Origin Private File System, named by their sha256: a different model,
// size or version can never be served from the wrong file. Runs in the worker, where OPFS has
// synchronous access handles. Downloads resume from a ".part" file with an HTTP Range request.

import { EngineError, throwIfCancelled } from './errors';
import { locate } from './modelFiles';
import type { LoadProgress, ModelFile } from './protocol';
import { SECURE_CONTEXT_HELP } from './webgpuHelp';

const DIR = 'sam2web-models';
const MAX_RESUMES = 5;
// No byte for this long and the connection is taken for dead: it is dropped and the download
// resumes on a new one (a stalled socket would otherwise leave the app "loading" forever).
const STALL_MS = 20_000;
// A storage call that has not settled after this long never will (Chromium has left one pending
// forever): the load fails with a clear message instead of showing "Verifying…" for good.
const STORAGE_MS = 60_000;

/** `call` as issued, or a clear error once the browser's storage has not answered for STORAGE_MS. */
async function storage<T>(what: string, call: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new EngineError(
            `the browser's storage (OPFS) did not answer for ` +
              `${STORAGE_MS / 1000} s while ${what}; reload the page to try again (downloaded bytes are kept)`,
            'storage',
          ),
        ),
      STORAGE_MS,
    );
  });
  try {
    return await Promise.race([call, silent]);
  } finally {
    clearTimeout(timer);
  }
}

async function modelDir(): Promise<FileSystemDirectoryHandle> {
  const root = await storage('opening the model cache', navigator.storage.getDirectory());
  return storage('opening the model cache', root.getDirectoryHandle(DIR, { create: true }));
}

async function fileHandle(dir: FileSystemDirectoryHandle, name: string, create = false) {
  try {
    return await storage(`opening ${name}`, dir.getFileHandle(name, { create }));
  } catch (e) {
    if (e instanceof EngineError) throw e;
    return null; // absent
  }
}

function isQuotaError(e: unknown): boolean {
  return e instanceof DOMException && (e.name === 'QuotaExceededError' || /quota/i.test(e.message));
}

async function sha256Hex(data: ArrayBuffer): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

type OnProgress = (p: LoadProgress) => void;

async function quotaError(name: string, bytes: number): Promise<EngineError> {
  const est = await navigator.storage.estimate();
  const free = Math.max(0, (est.quota ?? 0) - (est.usage ?? 0));
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  // The browser's quota is a share of the disk; a nearly full disk runs out before the quota does.
  const why =
    free >= bytes
      ? `the disk holding the browser's data is full (the browser would allow this site ${mb(free)} more)`
      : `this site may store only ${mb(free)} more`;
  return new EngineError(
    `browser storage is full: the ${name} needs ${mb(bytes)} and ${why}. Clear cached models or free disk space, then try again.`,
    'quota',
  );
}

/** Read a finished cached file; null when absent. */
async function readCached(dir: FileSystemDirectoryHandle, file: ModelFile): Promise<ArrayBuffer | null> {
  const handle = await fileHandle(dir, file.sha256);
  if (!handle) return null;
  const blob = await storage(`reading the cached ${file.sha256.slice(0, 12)}…`, handle.getFile());
  if (blob.size !== file.bytes) return null;
  return storage(`reading the cached ${file.sha256.slice(0, 12)}…`, blob.arrayBuffer());
}

/** Append the rest of the file to `<sha>.part`, resuming where an earlier attempt stopped. */
async function download(
  dir: FileSystemDirectoryHandle,
  file: ModelFile,
  name: string,
  onProgress: OnProgress,
  signal?: AbortSignal,
): Promise<void> {
  const partHandle = (await fileHandle(dir, `${file.sha256}.part`, true))!;
  const access = await storage(`opening ${name} for writing`, partHandle.createSyncAccessHandle());
  try {
    let have = access.getSize();
    // Check the quota first: over it, some browsers drop writes without an error.
    const est = await storage('asking for the storage quota', navigator.storage.estimate());
    if (est.quota !== undefined && est.usage !== undefined && est.quota - est.usage < file.bytes - have) {
      throw await quotaError(name, file.bytes);
    }
    if (have > file.bytes) {
      access.truncate(0);
      have = 0;
    }
    const started = performance.now();
    const startBytes = have;
    for (let attempt = 0; have < file.bytes; attempt++) {
      throwIfCancelled(signal, `the download of ${name}`); // the bytes so far are kept for the next try
      if (attempt > MAX_RESUMES) {
        throw new EngineError(
          `download of ${name} keeps breaking off at ${have} of ${file.bytes} ` +
            'bytes; check the connection to the server and try again (it will resume)',
          'network',
        );
      }
      const stall = new AbortController();
      let timer = setTimeout(() => stall.abort(), STALL_MS);
      const alive = () => {
        clearTimeout(timer);
        timer = setTimeout(() => stall.abort(), STALL_MS);
      };
      // The URL serving byte `have` (the file's, or the part's of a file split in parts).
      const source = locate(file, have);
      const partEnd = source.end;
      let response: Response;
      try {
        response = await fetch(source.url, {
          headers: source.start ? { Range: `bytes=${source.start}-` } : {},
          signal: signal ? AbortSignal.any([stall.signal, signal]) : stall.signal,
        });
      } catch (e) {
        clearTimeout(timer);
        throwIfCancelled(signal, `the download of ${name}`);
        if (stall.signal.aborted) continue; // no answer at all: try again on a new connection
        throw new EngineError(
          `cannot reach the server for ${name}: ${(e as Error).message}; ` + `${have} bytes are kept and the next attempt resumes`,
          'network',
        );
      }
      if (!response.ok || !response.body) {
        clearTimeout(timer);
        throw new EngineError(`server answered ${response.status} for ${name}`, 'network');
      }
      if (source.start && response.status !== 206) {
        // Range ignored: the whole file (or part) again, from its start.
        have -= source.start;
        access.truncate(have);
      }
      const reader = response.body.getReader();
      try {
        for (;;) {
          alive();
          const { done, value } = await reader.read();
          if (done) break;
          let written: number;
          try {
            written = access.write(value, { at: have });
          } catch (e) {
            if (isQuotaError(e)) throw await quotaError(name, file.bytes);
            throw e;
          }
          // Over the quota, a write may also just come up short instead of throwing.
          if (written < value.byteLength) {
            access.truncate(have);
            throw await quotaError(name, file.bytes);
          }
          have += value.byteLength;
          if (have > partEnd) throw new EngineError(`the server sent more than the ${file.bytes} bytes of ${name}`, 'integrity');
          const seconds = (performance.now() - started) / 1000;
          onProgress({
            phase: 'download',
            file: name,
            loaded: have,
            total: file.bytes,
            bytesPerSecond: seconds > 0 ? (have - startBytes) / seconds : 0,
            fromCache: false,
          });
        }
      } catch (e) {
        if (e instanceof EngineError) throw e;
        // Connection dropped, stalled or cancelled mid-body: loop round (a cancel ends it there),
        // else resume from what we have.
      } finally {
        clearTimeout(timer);
      }
      access.flush();
      if (have === partEnd) attempt = -1; // a part (or the file) complete: the next starts afresh
    }
  } finally {
    access.close();
  }
}

/** The verified bytes of a model file: from the cache, or downloaded (resumably) and cached.
 * One tab at a time per file (an OPFS file takes one writer): a tab opened while another downloads
 * the same file waits for it, then reads the file from the cache instead of downloading it again. */
export async function fetchModelFile(file: ModelFile, name: string, onProgress: OnProgress, signal?: AbortSignal): Promise<ArrayBuffer> {
  if (!self.isSecureContext) {
    // Browsers give OPFS (and Web Locks, WebGPU, threads) only to secure contexts.
    throw new EngineError(
      `this page was opened at ${self.location.origin}, which is not a secure context ` +
        '(plain http:// on an address other than localhost), so the browser gives it no model cache and no ' +
        `WebGPU. ${SECURE_CONTEXT_HELP}`,
      'insecure',
    );
  }
  const lockName = `sam2web-model-${file.sha256}`;
  return navigator.locks.request(lockName, { ifAvailable: true }, async (lock) => {
    if (lock) return fetchUnshared(file, name, onProgress, signal);
    onProgress({ phase: 'wait', file: name, loaded: 0, total: file.bytes, bytesPerSecond: 0, fromCache: false });
    try {
      return await navigator.locks.request(lockName, { signal }, () => fetchUnshared(file, name, onProgress, signal));
    } catch (e) {
      throwIfCancelled(signal, `waiting for ${name}`);
      throw e;
    }
  });
}

async function fetchUnshared(file: ModelFile, name: string, onProgress: OnProgress, signal?: AbortSignal): Promise<ArrayBuffer> {
  const dir = await modelDir();
  const cached = await readCached(dir, file);
  const fromCache = cached !== null;
  let data: ArrayBuffer;
  if (cached) {
    data = cached;
  } else {
    await download(dir, file, name, onProgress, signal);
    const part = (await fileHandle(dir, `${file.sha256}.part`))!;
    data = await storage(
      `reading the downloaded ${name}`,
      part.getFile().then((f) => f.arrayBuffer()),
    );
  }
  onProgress({ phase: 'verify', file: name, loaded: file.bytes, total: file.bytes, bytesPerSecond: 0, fromCache });
  const digest = await sha256Hex(data);
  if (digest !== file.sha256) {
    await dir.removeEntry(fromCache ? file.sha256 : `${file.sha256}.part`).catch(() => undefined);
    throw new EngineError(
      `${name} failed verification: its sha256 is ${digest.slice(0, 12)}…, the ` +
        `manifest says ${file.sha256.slice(0, 12)}… (corrupt or tampered with). It was not used.`,
      'integrity',
    );
  }
  if (!fromCache) {
    // Publish under the final name only once verified.
    const part = (await fileHandle(dir, `${file.sha256}.part`))!;
    await storage(
      `publishing the verified ${name}`,
      (part as FileSystemFileHandle & { move(name: string): Promise<void> }).move(file.sha256),
    );
  }
  return data;
}

export async function cacheInfo(): Promise<{ files: number; bytes: number; usage: number; quota: number }> {
  const dir = await modelDir();
  let files = 0,
    bytes = 0;
  for await (const handle of (dir as unknown as { values(): AsyncIterable<FileSystemHandle> }).values()) {
    if (handle.kind === 'file') {
      files++;
      bytes += (await (handle as FileSystemFileHandle).getFile()).size;
    }
  }
  const est = await navigator.storage.estimate();
  return { files, bytes, usage: est.usage ?? 0, quota: est.quota ?? 0 };
}

export async function clearCache(): Promise<void> {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry(DIR, { recursive: true }).catch(() => undefined);
}
