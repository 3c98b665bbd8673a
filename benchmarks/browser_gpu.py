"""The app in a real Chromium, driven over the DevTools protocol: a matrix of model x backend x
graph capture x mask renderer, each in a fresh profile (cold start, then a warm reload), with
encode times, click -> mask painted over N clicks (and where each click's time went), hover-preview
frames/s, memory, and the mask of one click checked against the Python predictor.

Made for the lent GPU machine (benchmarks/gpu_browser/run.sh starts the server and the packed
headless Chromium there), where only aiohttp is at hand; it runs the same against any Chromium:

    python benchmarks/browser_gpu.py --chromium /usr/bin/chromium --url http://127.0.0.1:8000/ \\
        --models sam2.1-hiera-test-fp32 --backends wasm --clicks 5 --store DIR --out out.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np
from PIL import Image


class Page:
    """One tab over CDP: commands, script evaluation, polling."""

    def __init__(self, ws):
        self.ws, self.next_id = ws, 0

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
        fx, fy = 0.2 + 0.6 * ((i * 7) % 10) / 9, 0.2 + 0.6 * ((i * 3) % 10) / 9
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
        values = [b[key] for b in breakdowns[1:] or breakdowns if key in b]
        parts[key] = percentile(values, 50)
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
    for old in downloads.glob("*"):
        old.unlink()
    await page.js("document.getElementById('export-mask').click(), 1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = list(downloads.glob("*.png"))
        if done and not list(downloads.glob("*.crdownload")):
            return {"points": prompts.get("points"), "mask_png": done[0].read_bytes()}
        await asyncio.sleep(0.1)
    return {"points": prompts.get("points"), "mask_png": None}


def python_iou(store: Path, model: str, demo: Path, result: dict) -> float | None:
    """IoU of the browser's mask against the Python predictor's, same bundle, image and click."""
    if not result.get("mask_png") or not result.get("points"):
        return None
    from sam2web.predict.image import Predictor

    predictor = Predictor.from_bundle(store / model)
    predictor.set_image(demo)
    (x, y, label), *_ = result["points"]
    r = predictor.predict(points=[[x, y]], labels=[label], multimask=True)
    expected = r.masks[int(np.argmax(r.scores))]
    got = np.asarray(Image.open(io.BytesIO(result["mask_png"])).convert("L")) > 127
    union = np.logical_or(got, expected).sum()
    return 1.0 if union == 0 else round(float(np.logical_and(got, expected).sum() / union), 5)


async def run_config(args, config: dict) -> dict:
    query = "?" + "&".join(f"{k}={v}" for k, v in config.items() if v not in (None, "auto"))
    url = args.url + query
    profile = tempfile.mkdtemp(prefix="sam2web-bench-")
    downloads = Path(profile) / "downloads"
    downloads.mkdir()
    flags = args.flags.split()
    out: dict = {"config": config, "url": url}
    browser = Browser(args.chromium, flags, profile)
    try:
        page, ws, out["cold_ready_s"], ready = await open_app(browser, url, str(downloads), 150)
        out["status_cold"] = await page.status()
        out["badge"] = await page.js("document.getElementById('backend-badge')?.innerText")
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
            out["iou_vs_python"] = python_iou(Path(args.store), config["model"], args.demo, parity)
        await ws.close()
    except Exception as exc:  # one config failing must not lose the others' figures
        out["error"] = repr(exc)
    finally:
        await browser.close()
        shutil.rmtree(profile, ignore_errors=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chromium", required=True)
    parser.add_argument("--flags", default="", help="Chromium flags, one string.")
    parser.add_argument("--url", default="http://127.0.0.1:8000/")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--backends", nargs="+", default=["webgpu", "wasm"])
    parser.add_argument("--adapters", nargs="+", default=["auto"], help="auto and/or compat.")
    parser.add_argument("--capture", nargs="+", default=["auto"])
    parser.add_argument("--renderer", nargs="+", default=["auto"])
    parser.add_argument("--clicks", type=int, default=50)
    parser.add_argument("--store", help="The server's model store: masks checked against Python.")
    parser.add_argument("--demo", type=Path, help="The app's demo image (web/public/demo.png).")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    configs = []
    for model, backend, adapter, capture, renderer in itertools.product(
        args.models, args.backends, args.adapters, args.capture, args.renderer
    ):
        if backend == "wasm" and (capture != args.capture[0] or adapter != args.adapters[0]):
            continue  # adapters and graph capture are WebGPU matters
        configs.append(
            {
                "model": model,
                "backend": backend,
                "adapter": adapter,
                "capture": capture,
                "renderer": renderer,
            }
        )
    results = []
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
            f"{result.get('hover_fps')} fps, iou {result.get('iou_vs_python')}, "
            f"{result.get('error', '')}",
            file=sys.stderr,
            flush=True,
        )
        args.out.write_text(json.dumps({"results": results}, indent=1) + "\n")
    print(
        json.dumps(
            [{"config": r["config"], "p50": (r.get("clicks") or {}).get("p50_ms")} for r in results]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
