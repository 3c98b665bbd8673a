"""The app on WebGPU (a real adapter in headless Chromium), checked against the Python predictor."""

from __future__ import annotations

import numpy as np
import pytest

from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from replay import replay


@pytest.fixture(scope="module")
def predictor(fp32_bundle):
    return Predictor.from_bundle(fp32_bundle)


# 214 s in a quiet local run (SwiftShader compiles and runs the SAM2 graphs on 2 CPU cores): the
# default suite checks WebGPU with the built-in model (test_builtin_model.py); `-m slow` runs this.
@pytest.mark.slow
def test_webgpu_click_matches_python(webgpu_browser, server, photo_files, predictor, shot):
    """A click on WebGPU: SwiftShader's Vulkan adapter computes in exact fp32, like a real GPU.

    (ANGLE's OpenGL ES compatibility adapter is faster here but its results drift: see the
    project notes. Decoding on a CPU-emulated GPU takes minutes for the first click: one click.)
    """
    page = webgpu_browser.new_page(viewport={"width": 1300, "height": 900})
    # capture=on: graph capture is on by default only on hardware GPUs; here it is checked too.
    app = AppPage(page, server.url).open("?capture=on")
    assert app.badge().startswith("WebGPU"), app.badge()
    assert "ready on WEBGPU" in app.status()
    assert "warmed up" not in app.status()  # no warm-up run on a CPU-emulated adapter
    app.upload(photo_files["coffee"])
    assert "on WEBGPU" in app.status()
    assert (
        app._data("featuresLocation") == "gpu-buffer"
    )  # no readback; the decoder reads them there
    predictor.set_image(photo_files["coffee"])
    app.click(0.5, 0.45)
    assert "Decoded in" in app.status()
    obj = app.objects()[0]
    ((x, y, label),) = obj["points"]
    assert label == 1 and len(obj["scores"]) == 3  # a lone click gives three candidates
    expected, low, score = replay(predictor, [("point", x, y, 1)])
    got = app.mask()
    assert got.shape == (400, 600)  # the whole image, at its own resolution
    # The random-weight test model's logits stay within about +-0.2, so float noise could flip
    # pixels near 0: every pixel whose logit is clearly decided must agree, and the masks as a
    # whole too. (What once drifted here was onnxruntime-web's attention on SwiftShader's 4-wide
    # subgroups, not noise: gpuDevice.ts; since, IoU 1.0.)
    logits = predictor.upsample(low[None])[0]
    decided = np.abs(logits) >= 0.01
    agreement = float((got == expected)[decided].mean())
    print(
        f"webgpu vs python: iou {iou(got, expected):.4f}, decided-pixel agreement {agreement:.5f}, "
        f"decided {decided.mean():.3f}, |logit| p50 {np.median(np.abs(logits)):.4f}"
    )
    assert agreement >= 0.999
    assert iou(got, expected) >= 0.99
    assert obj["scores"][obj["chosen"]] == pytest.approx(score, abs=1e-3)
    assert app._data("captured") == "false"  # the first one-point click records the decoder
    shot(page, "click")

    # The same click for a second object replays the recorded decoder: same masks, same scores.
    app.new_object()
    app.click(0.5, 0.45)
    assert app._data("captured") == "true"
    replayed = app.mask()
    second = app.objects()[1]
    agreement = float((replayed == expected)[decided].mean())
    print(
        f"replayed vs python: iou {iou(replayed, expected):.4f}, "
        f"decided-pixel agreement {agreement:.5f}"
    )
    assert agreement >= 0.999 and iou(replayed, expected) >= 0.99
    assert second["scores"] == pytest.approx(obj["scores"], abs=1e-4)
    assert app._data("sessions") == "3"  # encoder, decoder, the decoder recorded for one point
    # 3 feature buffers, the readback staging buffer, the one-point recording's 4 prompt inputs.
    assert app._data("gpuBuffers") == "8"

    # A recording that fails frees what it made: its session and its input buffers.
    app.page.evaluate("() => window.sam2web.engine.failNextCaptureForTesting()")
    app.click(0.3, 0.3)  # two points: a plain run, then the two-point recording fails
    app.click(
        0.6, 0.4
    )  # three points: the plain session answers; buffers counted after the failure
    assert "fault injected" in app._data("captureFailure")
    assert app._data("captured") == "false"
    assert app._data("gpuBuffers") == "8"
    assert not [c for c in app.console if c.startswith(("error", "pageerror", "warning"))], (
        app.console
    )
    page.close()


def test_fp16_bundle_is_chosen_where_the_adapter_computes_in_fp16(
    webgpu_browser, exported, tmp_path_factory
):
    """Same model in fp32 and fp16: WebGPU with `shader-f16` picks fp16, anything else fp32."""
    from serve_helpers import Server, make_store

    store = make_store(
        tmp_path_factory.mktemp("f16store"), [exported["fp32"].path, exported["fp16"].path]
    )
    srv = Server(store)
    try:
        page = webgpu_browser.new_page(viewport={"width": 1300, "height": 900})
        AppPage(page, srv.url).open()
        f16 = page.evaluate("() => window.sam2web.engine.info.shaderF16")
        chosen = page.eval_on_selector("#model-select", "s => s.value")
        assert chosen.endswith("-fp16" if f16 else "-fp32"), (f16, chosen)
        page.close()
        page = webgpu_browser.new_page(viewport={"width": 1300, "height": 900})
        AppPage(page, srv.url).open("?model=" + chosen.replace("-fp16", "-fp32"))
        assert page.eval_on_selector("#model-select", "s => s.value").endswith("-fp32")
        page.close()
    finally:
        srv.stop()
