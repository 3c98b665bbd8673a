import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The app is built straight into the Python package, which serves it (`sam2web serve`).
export default defineConfig({
  base: './',
  build: {
    outDir: fileURLToPath(new URL('../src/sam2web/server/static', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1024,
    // Source maps stay out of the package; onnxruntime-web's wasm is copied as an asset.
    sourcemap: false,
  },
  worker: { format: 'es' },
});
