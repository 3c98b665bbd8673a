"""Where a browser adapter's results drift from onnxruntime's CPU: one bundle's graphs, run in
Chromium by the app's bench/graph.html (the engine's own backend: its adapter, device features,
onnxruntime-web build and session options) on the exact inputs the Python VideoPredictor gave
them, output by output and, with --nodes, node by node. How the SwiftShader drift of the SAM2
video test was traced to onnxruntime-web's attention on 4-wide subgroups (engine/gpuDevice.ts).

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
STATIC = (
    REPO / "src" / "sam2web" / "server" / "static"
)  # the built app, with bench/ (npm run build)
RUN_JS = "([model, feeds, outputs]) => window.graphCheck.run(model, feeds, outputs)"


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

    if not (STATIC / "bench" / "graph.html").is_file():
        parser.error(f"{STATIC}/bench/graph.html is missing: cd web && npm run build")
    root = Path(tempfile.mkdtemp(prefix="graph-drift-"))
    for name in ("ort", "bench"):
        (root / name).symlink_to(STATIC / name)
    (root / "graphs").mkdir()
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
    url = f"http://127.0.0.1:{server.server_address[1]}/bench/graph.html?backend={args.backend}"

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
            page.wait_for_selector("body[data-ready], body[data-error]", state="attached")
            if page.evaluate("document.body.dataset.error"):
                raise SystemExit(
                    f"bench/graph.html: {page.evaluate('document.body.dataset.error')}"
                )
            report["engine"] = page.evaluate("window.graphCheck.info")
            print(f"engine: {report['engine']}", file=sys.stderr)
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
                for j, (name, value) in enumerate(r["feeds"].items()):
                    feeds[name] = write_array(np.asarray(value), root / "in" / str(i) / f"{j}.bin")
                    feeds[name]["url"] = f"/in/{i}/{j}.bin"
                outputs = {}
                for j, name in enumerate(names):
                    ref = np.asarray(want[name], np.float32)
                    outputs[name] = write_array(ref, root / "refs" / str(i) / f"{j}.bin")
                    outputs[name]["url"] = f"/refs/{i}/{j}.bin"
                t0 = time.monotonic()
                got = page.evaluate(RUN_JS, [{"url": f"/graphs/{role}.onnx"}, feeds, outputs])
                shutil.rmtree(root / "refs" / str(i))
                entry = {
                    "role": role,
                    "run": i,
                    "page_ms": round(got["ms"], 1),
                    "outputs": got["drift"],
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
