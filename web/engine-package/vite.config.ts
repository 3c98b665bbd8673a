import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { ortRuntime } from '../ortRuntime';

// The engine as an npm package (engine-package/dist): index.js (the API, ESM), its worker in
// assets/ and onnxruntime-web's runtime files in ort/, the same layout as the app, so the
// defaults find them wherever a bundler or a server puts the package's files.
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  base: './',
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm'] },
  build: {
    outDir: here('./dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    minify: false,
    copyPublicDir: false,
    lib: { entry: here('../src/engine/index.ts'), formats: ['es'], fileName: () => 'index.js' },
  },
  // Stable names: pages that serve the package's files themselves point workerUrl at assets/worker.js.
  worker: {
    format: 'es',
    plugins: () => [ortRuntime()],
    rollupOptions: { output: { entryFileNames: 'assets/[name].js', chunkFileNames: 'assets/[name].js' } },
  },
});
