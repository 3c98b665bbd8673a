// One ONNX graph on the engine's own backend (Backend.create: the adapter, device and session
// options the app runs with), each output compared here with a reference from onnxruntime on the
// CPU: how benchmarks/graph_drift_browser.py and tests/browser/test_webgpu_kernels.py check
// onnxruntime-web's kernels on an adapter. Only figures leave the page (a graph's every node
// output, sent back whole, would not fit). Not part of the app: nothing here ships to users.

import { Backend } from '../src/engine/backend';
import type { EngineInfo } from '../src/engine/protocol';
import { createSession, type InferenceSession, runtime, type Tensor } from '../src/engine/runtime';

/** An input or a reference: raw little-endian data at `url`, or the values in `data`. */
interface ArraySpec {
  type: 'float32' | 'int64';
  dims: number[];
  url?: string;
  data?: number[];
}

/** How far an output is from its reference (the figures graph_drift_browser.py prints). */
interface Drift {
  max_abs: number;
  mean_abs: number;
  max_rel: number;
  scale: number;
  sign_flips: number;
  size: number;
}

interface GraphCheck {
  info: EngineInfo;
  /** Runs the graph (at `model.url`, or `model.base64`: its bytes) on `feeds`; each of `outputs`
   * against its reference. Sessions are made once per model. */
  run(
    model: { url?: string; base64?: string },
    feeds: Record<string, ArraySpec>,
    outputs: Record<string, ArraySpec>,
  ): Promise<{ ms: number; drift: Record<string, Drift> }>;
}

const sessions = new Map<string, InferenceSession>();

async function values(spec: ArraySpec): Promise<Float32Array | BigInt64Array> {
  if (spec.data) return spec.type === 'int64' ? BigInt64Array.from(spec.data, BigInt) : Float32Array.from(spec.data);
  const buf = await (await fetch(spec.url!)).arrayBuffer();
  return spec.type === 'int64' ? new BigInt64Array(buf) : new Float32Array(buf);
}

function drift(got: ArrayLike<number>, want: ArrayLike<number>): Drift {
  let maxAbs = 0;
  let sumAbs = 0;
  let scale = 0;
  let flips = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(maxAbs, d);
    sumAbs += d;
    scale = Math.max(scale, Math.abs(want[i]));
    if (Math.sign(got[i]) !== Math.sign(want[i])) flips++;
  }
  if (got.length !== want.length) maxAbs = Number.POSITIVE_INFINITY;
  return {
    max_abs: maxAbs,
    mean_abs: sumAbs / Math.max(want.length, 1),
    max_rel: maxAbs / (scale || 1),
    scale,
    sign_flips: flips,
    size: want.length,
  };
}

async function start(): Promise<GraphCheck> {
  const params = new URLSearchParams(location.search);
  const backend = await Backend.create(
    {
      backend: params.get('backend') === 'wasm' ? 'wasm' : 'webgpu',
      numThreads: Number(params.get('threads') ?? 1),
      maskRenderer: 'auto',
      graphCapture: 'off',
      adapter: 'auto',
      runtimeUrl: new URL('../ort/', location.href).href,
    },
    () => {},
  );
  return {
    info: backend.info,
    async run(model, feeds, outputs) {
      const key = model.url ?? model.base64 ?? '';
      let session = sessions.get(key);
      if (!session) {
        const bytes = model.url
          ? new Uint8Array(await (await fetch(model.url)).arrayBuffer())
          : Uint8Array.from(atob(key), (c) => c.charCodeAt(0));
        session = await createSession(bytes, backend.sessionOptions(false));
        sessions.set(key, session);
      }
      const inputs: Record<string, Tensor> = {};
      for (const [name, spec] of Object.entries(feeds)) inputs[name] = new (runtime().Tensor)(spec.type, await values(spec), spec.dims);
      const t0 = performance.now();
      const out = await session.run(inputs, Object.keys(outputs));
      const ms = performance.now() - t0;
      const result: Record<string, Drift> = {};
      for (const [name, spec] of Object.entries(outputs)) {
        const got = (await out[name].getData()) as Float32Array;
        result[name] = drift(got, (await values(spec)) as Float32Array);
        out[name].dispose();
      }
      return { ms, drift: result };
    },
  };
}

const status = document.getElementById('status')!;
start().then(
  (check) => {
    (window as unknown as { graphCheck: GraphCheck }).graphCheck = check;
    status.textContent = `ready on ${check.info.backend}`;
    document.body.dataset.ready = 'true';
  },
  (e: Error) => {
    status.textContent = `failed: ${e.message}`;
    document.body.dataset.error = e.message;
  },
);
