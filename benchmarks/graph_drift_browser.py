"""Where a browser adapter's results drift from onnxruntime's CPU: one bundle's graphs, run in
Chromium through onnxruntime-web (the app's own build, the app's session options) on the exact
inputs the Python VideoPredictor gave them, output by output and, with --nodes, node by node.

The Python VideoPredictor tracks --frames frames of --clip-frames (a folder of images) with one
click (--point, frame pixels) on frame 0; every graph run is recorded (inputs and outputs). Each
recorded run is then replayed in the page on --backend (webgpu or wasm) and its outputs compared
with the CPU's: max |diff| and max |diff| over the output's max |value|. --nodes ROLE adds every
float node output of that graph as a graph output on both sides (CPU and browser run the same
rewritten graph), so the first node whose results move is found; only nodes whose relative
drift is over --report are printed.

    .venv/bin/python benchmarks/graph_drift_browser.py --bundle B --clip-frames DIR \\
        --point 268 150 --frames 1 --flags "--enable-unsafe-webgpu" --out drift.json
"""

from __future__ import annotations

import argparse
import http.server
import json
import shutil
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ORT_DIST = REPO / "web" / "node_modules" / "onnxruntime-web" / "dist"
ORT_FILES = (
    "ort.webgpu.min.mjs",
    "ort.wasm.min.mjs",
    "ort-wasm-simd-threaded.asyncify.mjs",
    "ort-wasm-simd-threaded.asyncify.wasm",
    "ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm",
)

# In the page: one session per graph (created once), a run on the fed inputs, and each output
# compared there with the CPU's (fetched from refs/RUN/INDEX.bin, one at a time: a graph's every
# node output, sent back whole, crashes the tab): only the figures come back.
RUN_JS = """async ({ backend, graph, feeds, outputs, refs }) => {
  window.__ort ??= await import(backend === 'webgpu' ? '/ort/ort.webgpu.min.mjs'
                                                     : '/ort/ort.wasm.min.mjs');
  const ort = window.__ort;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = 1;
  window.__sessions ??= {};
  if (!window.__sessions[graph]) {
    const ep = backend === 'webgpu' ? [{ name: 'webgpu' }] : ['wasm'];
    window.__sessions[graph] = await ort.InferenceSession.create('/graphs/' + graph,
      { executionProviders: ep, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  }
  const session = window.__sessions[graph];
  const inputs = {};
  for (const [name, f] of Object.entries(feeds)) {
    const buf = await (await fetch(f.url)).arrayBuffer();
    const data = f.type === 'int64' ? new BigInt64Array(buf) : new Float32Array(buf);
    inputs[name] = new ort.Tensor(f.type, data, f.dims);
  }
  const t0 = performance.now();
  const out = await session.run(inputs, outputs);
  const ms = performance.now() - t0;
  const result = {};
  for (const [i, name] of outputs.entries()) {
    const got = await out[name].getData();
    const want = new Float32Array(await (await fetch(refs + i + '.bin')).arrayBuffer());
    let maxAbs = 0, sumAbs = 0, scale = 0, flips = 0;
    for (let j = 0; j < want.length; j++) {
      const d = Math.abs(got[j] - want[j]);
      if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
      sumAbs += d;
      scale = Math.max(scale, Math.abs(want[j]));
      if (Math.sign(got[j]) !== Math.sign(want[j])) flips++;
    }
    const n = Math.max(want.length, 1);
    result[name] = { max_abs: maxAbs, mean_abs: sumAbs / n, max_rel: maxAbs / (scale || 1),
                     scale, sign_flips: flips, size: want.length, got_size: got.length };
    out[name].dispose?.();
  }
  return { ms, result };
}"""


def record_runs(bundle: Path, frames: np.ndarray, point, num_frames: int) -> list[dict]:
    """The Python VideoPredictor's graph runs (role, feeds, outputs) for one click on frame 0 and
    a forward track over the frames."""
    from sam2web.predict.video import VideoPredictor

    predictor = VideoPredictor.from_bundle(bundle, threads=2)
    runs = []
    run = predictor.sessions.run

    def recording(role, feeds, *args, **kwargs):
        out = run(role, feeds, *args, **kwargs)
        runs.append({"role": role, "feeds": dict(feeds), "outputs": dict(out)})
        return out

    predictor.sessions.run = recording
    state = predictor.init_state(frames[:num_frames])
    predictor.add_new_points_or_box(state, 0, 1, points=[list(point)], labels=[1])
    for _ in predictor.propagate_in_video(state, start_frame_idx=0, reverse=False):
        pass
    return runs


def with_node_outputs(src: Path, dst: Path) -> list[str]:
    """`src` with every float node output also a graph output -> the names added."""
    import onnx
    from onnx import shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(src)))
    graph = model.graph
    known = {o.name for o in graph.output}
    types = {v.name: v.type.tensor_type.elem_type for v in graph.value_info}
    added = []
    for node in graph.node:
        for name in node.output:
            if name and name not in known and types.get(name) == onnx.TensorProto.FLOAT:
                graph.output.append(onnx.helper.make_tensor_value_info(name, 1, None))
                added.append(name)
    onnx.save(model, str(dst))
    return added


def write_array(a: np.ndarray, path: Path) -> dict:
    """An input or reference as raw float32 (int64 kept) -> how the page reads it."""
    a = np.ascontiguousarray(a)
    kind = "int64" if a.dtype == np.int64 else "float32"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(a.astype(np.int64 if kind == "int64" else np.float32).tobytes())
    return {"type": kind, "dims": list(a.shape)}


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--clip-frames", type=Path, required=True, help="a folder of images")
    parser.add_argument("--point", type=float, nargs=2, required=True, help="frame pixels")
    parser.add_argument("--frames", type=int, default=1, help="frames tracked (1: the click)")
    parser.add_argument("--backend", default="webgpu", choices=("webgpu", "wasm"))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--flags", default="--enable-unsafe-webgpu")
    parser.add_argument("--roles", nargs="+", help="only these graphs (default: all run)")
    parser.add_argument("--nodes", help="this graph (a role) node by node")
    parser.add_argument("--report", type=float, default=1e-3, help="--nodes: max_rel to print")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import onnxruntime as ort
    from PIL import Image
    from playwright.sync_api import sync_playwright

    paths = sorted(p for p in args.clip_frames.iterdir() if p.suffix in (".png", ".jpg"))
    frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    runs = record_runs(args.bundle, frames, args.point, args.frames)
    print(f"{len(runs)} graph runs recorded: {[r['role'] for r in runs]}", file=sys.stderr)
    if args.roles:
        runs = [r for r in runs if r["role"] in args.roles]

    root = Path(tempfile.mkdtemp(prefix="graph-drift-"))
    (root / "ort").mkdir()
    (root / "graphs").mkdir()
    for name in ORT_FILES:
        shutil.copy(ORT_DIST / name, root / "ort" / name)
    (root / "index.html").write_text("<!doctype html><title>graph drift</title>")
    extra: dict[str, list[str]] = {}
    for role in {r["role"] for r in runs}:
        src = args.bundle / f"{role}.onnx"
        if role == args.nodes:
            extra[role] = with_node_outputs(src, root / "graphs" / f"{role}.onnx")
        else:
            shutil.copy(src, root / "graphs" / f"{role}.onnx")
    handler = partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"

    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "runs": []}
    cpu: dict[str, ort.InferenceSession] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=args.chromium,
                headless=True,
                args=["--no-sandbox", *args.flags.split()],
            )
            page = browser.new_page()
            page.set_default_timeout(0)
            page.goto(url)
            for i, r in enumerate(runs):
                role = r["role"]
                names = list(r["outputs"]) + extra.get(role, [])
                want = dict(r["outputs"])
                if role in extra:  # the rewritten graph's own outputs, on the CPU
                    if role not in cpu:
                        cpu[role] = ort.InferenceSession(
                            str(root / "graphs" / f"{role}.onnx"),
                            providers=["CPUExecutionProvider"],
                        )
                    want = dict(zip(names, cpu[role].run(names, r["feeds"]), strict=True))
                feeds = {}
                for k, v in r["feeds"].items():
                    feeds[k] = write_array(
                        np.asarray(v), root / "in" / str(i) / f"{len(feeds)}.bin"
                    )
                    feeds[k]["url"] = f"/in/{i}/{len(feeds) - 1}.bin"
                for j, name in enumerate(names):
                    write_array(
                        np.asarray(want[name], np.float32), root / "refs" / str(i) / f"{j}.bin"
                    )
                t0 = time.monotonic()
                got = page.evaluate(
                    RUN_JS,
                    {
                        "backend": args.backend,
                        "graph": f"{role}.onnx",
                        "feeds": feeds,
                        "outputs": names,
                        "refs": f"/refs/{i}/",
                    },
                )
                shutil.rmtree(root / "refs" / str(i))
                entry = {
                    "role": role,
                    "run": i,
                    "page_ms": round(got["ms"], 1),
                    "outputs": got["result"],
                }
                report["runs"].append(entry)
                print(f"{role} (run {i}, {time.monotonic() - t0:.0f} s):", file=sys.stderr)
                for name in names:
                    d = entry["outputs"][name]
                    if name in r["outputs"] or d["max_rel"] >= args.report:
                        print(
                            f"  {name}: max_rel {d['max_rel']:.2e} max_abs {d['max_abs']:.2e} "
                            f"mean_abs {d['mean_abs']:.2e} scale {d['scale']:.3g} "
                            f"sign flips {d['sign_flips']}",
                            file=sys.stderr,
                        )
                args.out.write_text(json.dumps(report, indent=1) + "\n")
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
