import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isGpuMemory } from '../src/engine/video/gpuMemories';
import { fillHolesInMaskScores } from '../src/engine/video/maskHoles';
import { DEFAULT_CONFIG, type FrameRecord, gatherMemories, NonCondFrames, sinePe, stackBf16, toBf16 } from '../src/engine/video/memory';
import { preprocessFrame } from '../src/engine/video/preprocessFrame';

// Written by fixtures/make_video_fixtures.py from the Python tracker (src/sam2web/predict/).
const ref = JSON.parse(readFileSync(new URL('./fixtures/video.json', import.meta.url), 'utf8'));
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('video engine pure functions match the Python tracker', () => {
  for (const c of ref.frames) {
    const upscaled = c.size >= c.width && c.size >= c.height;
    it(`preprocesses a ${c.width}x${c.height} frame to ${c.size}x${c.size} as Pillow's bicubic`, () => {
      const out = preprocessFrame(Uint8ClampedArray.from(c.rgba), c.width, c.height, c.size, MEAN, STD);
      // To the bit when upscaling (a video frame to 1024: the usual case). When shrinking both
      // ways, the installed Pillow 13.0.0 sometimes gives what a vertical-first pass gives
      // (Pillow's published Resample.c runs horizontal first, as here): at most 2 levels of 255.
      expect(maxDiff(out, c.preprocessed)).toBeLessThanOrEqual(upscaled ? 0 : 2 / 255 / 0.224 + 1e-6);
    });
  }
  it('rounds to bf16 as torch does (nearest even)', () => {
    expect([...toBf16(Float32Array.from(ref.bf16.x))]).toEqual(ref.bf16.bits);
  });
  it('encodes pointer positions with the official 1-D sine encoding', () => {
    expect(maxDiff(sinePe(Float32Array.from(ref.sine.pos), 256), ref.sine.pe)).toBeLessThan(1e-6);
  });
  it('fills background regions of at most the given area', () => {
    const logits = Float32Array.from(ref.holes.logits);
    expect([...fillHolesInMaskScores(logits, 24, 24, 8)]).toEqual(ref.holes.filled8);
    expect([...fillHolesInMaskScores(logits, 24, 24, 9)]).toEqual(ref.holes.filled9);
  });
  for (const b of ref.banks) {
    it(`gathers the memories and pointers of frame ${b.frame_idx} (${b.reverse ? 'reverse' : 'forward'})`, () => {
      const record = (t: number): FrameRecord => ({
        predMasks: new Float32Array(1),
        objPtr: new Float32Array(256).fill(t),
        objectScore: 1,
        maskmem: toBf16(Float32Array.of(t, t)),
      });
      const cond = new Map<number, FrameRecord>(b.cond.map((t: number) => [t, record(t)]));
      const nonCond = new NonCondFrames(b.tracked.map((t: number) => [t, record(t)]));
      const m = gatherMemories(DEFAULT_CONFIG, b.frame_idx, cond, nonCond, b.num_frames, b.reverse);
      expect(m.frames).toEqual(b.frames);
      expect([...m.maskmemTposIndex].map(Number)).toEqual(b.tpos);
      expect(m.pointerFrames).toEqual(b.pointer_frames);
      expect(maxDiff(m.objPtrTpos, b.obj_ptr_tpos)).toBeLessThan(1e-6);
      expect(stackBf16(m.memories as Uint16Array[])[2 * m.frames.length - 1]).toBe(m.frames[m.frames.length - 1]);
    });
  }
});

describe('where a memory lives', () => {
  it('tells bf16 bits in worker memory from a GPU buffer', () => {
    expect(isGpuMemory(new Uint16Array(8))).toBe(false);
    expect(isGpuMemory({ buffer: {}, floats: 8, byteLength: 32 })).toBe(true);
  });
});

describe('the memory bank does not grow with the video', () => {
  it('keeps at most the frames within reach, whatever the number of frames tracked', () => {
    let dropped = 0;
    const bank = new NonCondFrames([], () => dropped++);
    const sizes: number[] = [];
    for (let f = 0; f < 600; f++) {
      bank.set(f, {
        predMasks: new Float32Array(256 * 256),
        objPtr: new Float32Array(256),
        objectScore: 1,
        maskmem: new Uint16Array(64 * 64 * 64),
      });
      bank.trim(f, 15, false);
      sizes.push(bank.bytes);
    }
    expect(bank.size).toBe(16);
    expect(dropped).toBe(600 - 16); // what a record holds (its GPU memory) let go when it leaves
    expect(sizes[599]).toBe(sizes[59]);
  });
});
