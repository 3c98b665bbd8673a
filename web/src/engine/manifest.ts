// The bundle manifest, version 2: an open map of file roles and a list of capabilities. Mirrors
// src/sam2web/manifest.py (same schema: src/sam2web/bundle_manifest.schema.json), validated when
// read; version 1 manifests (fixed encoder/decoder roles) are upgraded on the way in.

import { EngineError } from './errors';

export const FORMAT = 'sam2web-bundle';
export const FORMAT_VERSION = 2;

/** Roles each known capability needs; unknown capabilities are kept, not required. */
export const CAPABILITY_ROLES: Record<string, readonly string[]> = {
  image: ['encoder', 'decoder'],
  // Segment everything with a fixed-batch decoder (everything.ts); without it the click decoder
  // decodes the grid one point at a time.
  everything: ['encoder', 'decoder_batch'],
};

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const ROLE = /^[a-z][a-z0-9_]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

export interface FileEntry {
  path: string;
  bytes: number;
  sha256: string;
  [key: string]: unknown;
}

export type Family = 'sam2' | 'sam1';

export interface BundleManifest {
  format: typeof FORMAT;
  format_version: typeof FORMAT_VERSION;
  id: string;
  family: Family;
  capabilities: string[];
  files: Record<string, FileEntry>;
  input_size: number;
  mean: number[];
  std: number[];
  mask_threshold?: number;
  io?: { encoder_input?: string; encoder_output?: string };
  [key: string]: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNumberList = (v: unknown, n: number) =>
  Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** A checked, version-2 copy of a manifest's JSON; throws EngineError('bundle') naming the problem. */
export function parseManifest(raw: unknown): BundleManifest {
  const bad = (why: string): never => {
    const id = isRecord(raw) && typeof raw.id === 'string' ? ` ${raw.id}` : '';
    throw new EngineError(`model bundle${id}: ${why}`, 'bundle');
  };
  if (!isRecord(raw) || raw.format !== FORMAT) return bad('not a sam2web manifest');
  const version = raw.format_version;
  if (version !== 1 && version !== FORMAT_VERSION) {
    return bad(`format version ${String(version)}; this sam2web reads 1 and ${FORMAT_VERSION} (re-export the bundle or upgrade sam2web)`);
  }
  if (typeof raw.id !== 'string' || !ID.test(raw.id)) {
    return bad(`id ${JSON.stringify(raw.id)} is not a valid model id (letters, digits, '.', '_', '-'; no leading dot)`);
  }
  if (raw.family !== 'sam2' && raw.family !== 'sam1') return bad(`unknown family ${JSON.stringify(raw.family)}`);
  if (typeof raw.input_size !== 'number' || !Number.isInteger(raw.input_size) || raw.input_size <= 0) {
    return bad('input_size must be a positive integer');
  }
  if (!isNumberList(raw.mean, 3) || !isNumberList(raw.std, 3)) return bad('mean and std must be 3 numbers each');
  if (!isRecord(raw.files)) return bad("lacks 'files'");
  const files: Record<string, FileEntry> = {};
  for (const [role, entry] of Object.entries(raw.files)) {
    if (!ROLE.test(role)) return bad(`file role ${JSON.stringify(role)} is not a valid role name`);
    if (!isRecord(entry)) return bad(`file ${role} is not described`);
    const { path, bytes, sha256 } = entry;
    if (typeof path !== 'string' || !path || path.startsWith('/') || path.split(/[\\/]/).includes('..')) {
      return bad(`file path ${JSON.stringify(path)} leaves the bundle`);
    }
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 0) return bad(`file ${role} has no valid size`);
    if (typeof sha256 !== 'string' || !SHA256.test(sha256)) return bad(`file ${role} has no valid sha256`);
    files[role] = { ...entry, path, bytes, sha256 };
  }
  const capabilities = version === 1 ? ['image'] : raw.capabilities;
  if (!Array.isArray(capabilities) || !capabilities.every((c) => typeof c === 'string')) {
    return bad('capabilities must be a list of names');
  }
  for (const capability of capabilities) {
    for (const role of CAPABILITY_ROLES[capability] ?? []) {
      if (!(role in files)) return bad(`capability '${capability}' needs a '${role}' file`);
    }
  }
  return {
    ...raw,
    format: FORMAT,
    format_version: FORMAT_VERSION,
    id: raw.id,
    family: raw.family,
    capabilities: [...capabilities],
    files,
    input_size: raw.input_size,
    mean: raw.mean as number[],
    std: raw.std as number[],
  };
}

/** What the engine downloads to use a capability: the files of its roles, each once (the server's
 * `download_bytes`, src/sam2web/manifest.py capability_bytes). */
export function capabilityBytes(manifest: Pick<BundleManifest, 'files'>, capability: string): number {
  const roles = new Set(CAPABILITY_ROLES[capability] ?? []);
  return [...roles].reduce((sum, role) => sum + (manifest.files[role]?.bytes ?? 0), 0);
}

/** Throws a clear error when the bundle lacks a capability (its graphs were not exported). */
export function requireCapability(manifest: BundleManifest, capability: string): void {
  if (!manifest.capabilities.includes(capability)) {
    throw new EngineError(
      `model ${manifest.id} has no '${capability}' graphs (it offers ${manifest.capabilities.join(', ') || 'nothing'}); ` +
        're-export it with a newer sam2web',
      'bundle',
    );
  }
}
