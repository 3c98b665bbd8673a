// onnxruntime-web in the build that suits the backend. WebGPU needs the asyncify build (the WASM
// side awaits the GPU); the WASM backend loads the plain build, half its size, which compiles
// and creates sessions sooner, with clicks and encodes the same within noise (plain vs asyncify:
// benchmarks/results/browser-ci/2026-12-01-wasm-minisam-50*.json). Each build carries its own
// copy of the API; tensors made by `f32`
// belong to the build loaded last, and a session accepts either build's tensors as inputs.

import type * as Ort from 'onnxruntime-web';

export type OrtModule = typeof Ort;
export type { InferenceSession, Tensor } from 'onnxruntime-web';

let active: OrtModule | null = null;

/** Load (once per build) and configure onnxruntime-web for `backend`; the runtime files (glue
 * .mjs + .wasm) are fetched from `wasmPaths`. */
export async function loadRuntime(backend: 'webgpu' | 'wasm', wasmPaths: string, numThreads: number): Promise<OrtModule> {
  const ort: OrtModule = backend === 'webgpu' ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web/wasm');
  ort.env.logLevel = 'error'; // no console noise in normal use
  ort.env.wasm.numThreads = numThreads;
  ort.env.wasm.wasmPaths = wasmPaths;
  active = ort;
  return ort;
}

/** The runtime loaded last. */
export function runtime(): OrtModule {
  if (!active) throw new Error('onnxruntime-web is not loaded yet (loadRuntime first)');
  return active;
}

let sessions = 0;

/** A session of the runtime loaded last; every session the engine makes comes from here. */
export async function createSession(model: Uint8Array, options: Ort.InferenceSession.SessionOptions): Promise<Ort.InferenceSession> {
  const session = await runtime().InferenceSession.create(model, options);
  sessions++;
  return session;
}

/** How many sessions were created so far: made once per model, never per click. */
export const sessionsCreated = () => sessions;

/** How many elements a tensor of these dims holds. */
export const elementCount = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

/** A float32 tensor on the CPU. */
export function f32(data: Float32Array, dims: readonly number[]): Ort.Tensor {
  return new (runtime().Tensor)('float32', data, dims);
}
