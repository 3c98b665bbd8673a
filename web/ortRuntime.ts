import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

// onnxruntime-web's WASM runtime (glue .mjs + .wasm) ships as separate files beside the app, not
// inside our worker bundle: its threads start new workers from the glue file's own URL, which
// must be that file and not our engine worker. Two builds (engine/runtime.ts says why): asyncify
// for WebGPU, the plain one for WASM; a browser fetches only the one it runs.
const ORT_FILES = [
  'ort-wasm-simd-threaded.asyncify.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
  'ort-wasm-simd-threaded.mjs',
  'ort-wasm-simd-threaded.wasm',
];

export function ortRuntime(): Plugin {
  return {
    name: 'sam2web-ort-runtime',
    generateBundle() {
      for (const name of ORT_FILES) {
        const source = readFileSync(fileURLToPath(new URL(`./node_modules/onnxruntime-web/dist/${name}`, import.meta.url)));
        this.emitFile({ type: 'asset', fileName: `ort/${name}`, source });
      }
    },
  };
}
