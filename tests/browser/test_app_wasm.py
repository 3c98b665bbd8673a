"""The app in a browser without WebGPU: the WASM fallback, prompts, exports, caching, bad input.
Every mask is checked against the Python predictor on the same image and prompts."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou, wait_for_text
from replay import replay
from serve_helpers import Server, make_store


@pytest.fixture(scope="module")
def predictor(fp32_bundle):
    return Predictor.from_bundle(fp32_bundle)


@pytest.fixture
def context(plain_browser):
    ctx = plain_browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    yield ctx
    ctx.close()


@pytest.fixture
def app(context, server):
    return AppPage(context.new_page(), server.url).open()


def test_without_webgpu_falls_back_to_wasm_with_a_notice(app, shot):
    assert app.badge().startswith("WASM")
    notice = app.page.inner_text("#notice-webgpu")
    assert "WebGPU is not available: " in notice and "no GPU adapter" in notice
    assert "chrome://flags/#enable-unsafe-webgpu" in notice  # advice for this browser
    assert "ready on WASM" in app.status()
    # cross-origin isolated, so WASM runs threaded
    assert app.page.evaluate("self.crossOriginIsolated") is True
    assert re.search(r"WASM · [2-9] threads", app.badge())
    # onnxruntime-web's plain WASM build (half the size of the asyncify build WebGPU needs)
    assert app.runtime_builds() == {"plain"}, app.requests
    shot(app.page, "fallback")


def test_click_negative_box_and_box_point_match_python(app, photo_files, predictor, shot):
    app.upload(photo_files["chelsea"])  # 451x300
    predictor.set_image(photo_files["chelsea"])
    app.click(0.45, 0.5)
    first = app.objects()[0]["points"][0]
    expected, _, _ = replay(predictor, [("point", *first)])
    got = app.mask()
    assert got.shape == (300, 451)
    assert iou(got, expected) >= 0.99
    app.click(0.85, 0.15, negative=True)
    pts = app.objects()[0]["points"]
    assert pts[1][2] == 0
    expected, _, _ = replay(predictor, [("point", *p) for p in pts])
    assert iou(app.mask(), expected) >= 0.99
    shot(app.page, "point-negative")

    app.new_object()
    app.drag_box(0.2, 0.1, 0.7, 0.9)
    box = app.objects()[1]["box"]
    assert box[0] < box[2] and box[1] < box[3]
    expected, _, _ = replay(predictor, [("box", *box)])
    assert iou(app.mask(), expected) >= 0.99
    app.click(0.4, 0.4)  # a point inside the box refines the same object
    obj = app.objects()[1]
    expected, _, _ = replay(predictor, [("box", *box), ("point", *obj["points"][0])])
    assert iou(app.mask(), expected) >= 0.99
    assert len(app.page.locator("#object-list li").all()) == 2
    assert app._data("sessions") == "2"  # one encoder and one decoder session, not one per click
    shot(app.page, "box-point")
    assert not [c for c in app.console if c.startswith(("error", "pageerror", "warning"))], (
        app.console
    )


def test_masks_are_drawn_on_the_gpu_matching_python(context, server, photo_files, predictor):
    """The overlay is upsampled, thresholded and outlined by WebGL2 in the engine's worker (no
    per-pixel JavaScript); what it draws is the Python predictor's mask, and its area the count.
    Chromium here has only SwiftShader's CPU-emulated WebGL, where 'auto' draws in JavaScript
    (faster there), so the test asks for WebGL2 explicitly."""
    app = AppPage(context.new_page(), server.url).open("?renderer=webgl2")
    app.upload(photo_files["coffee"])
    predictor.set_image(photo_files["coffee"])
    app.click(0.5, 0.45)
    assert app._data("renderer") == "webgl2"
    point = app.objects()[0]["points"][0]
    expected, _, _ = replay(predictor, [("point", *point)])
    alpha = app.overlay_alpha()
    assert alpha.shape == expected.shape == (400, 600)
    drawn = alpha > 0
    assert iou(drawn, expected) >= 0.99
    assert set(np.unique(alpha[drawn])) <= {110, 255}  # translucent fill, opaque outline
    area = int(app.page.inner_text("#object-list li").split("px")[0].split()[-1].replace(",", ""))
    assert abs(area - int(expected.sum())) <= 0.005 * expected.sum(), (area, int(expected.sum()))
    app.page.close()
    # 'auto' on this CPU-emulated WebGL: JavaScript draws the same mask.
    auto = AppPage(context.new_page(), server.url).open()
    auto.upload(photo_files["coffee"])
    auto.click(0.5, 0.45)
    assert auto._data("renderer") == "js"
    assert iou(auto.overlay_alpha() > 0, drawn) >= 0.99
    auto.page.close()


def test_threshold_rethresholds_without_decoding(app, photo_files, predictor):
    app.upload(photo_files["coffee"])
    predictor.set_image(photo_files["coffee"])
    app.click(0.5, 0.5)
    point = app.objects()[0]["points"][0]
    decoded = app._data("decoded")
    for t in (0.1, -0.1):
        app.set_threshold(t)
        expected, _, _ = replay(predictor, [("point", *point)], threshold=t)
        got = app.mask()
        assert iou(got, expected) >= 0.99
    assert app._data("decoded") == decoded  # no decoder run for a threshold change
    base, _, _ = replay(predictor, [("point", *point)])
    assert got.sum() != base.sum()  # and the threshold really changed the mask


def test_exports_png_cutout_coco_svg(app, photo_files, photos):
    from pycocotools import mask as mask_utils

    app.upload(photo_files["coffee"])
    app.click(0.5, 0.5)
    app.new_object()
    app.drag_box(0.05, 0.05, 0.3, 0.4)
    mask = app.mask()  # the active (second) object
    assert mask.any() and not mask.all()
    cutout = np.asarray(Image.open(io.BytesIO(app.download("cutout"))))
    assert cutout.shape == (400, 600, 4)
    assert np.array_equal(cutout[:, :, 3] > 0, mask)
    assert np.array_equal(cutout[mask][:, :3], photos["coffee"][mask])

    coco = json.loads(app.download("coco"))
    assert coco["images"][0]["width"] == 600 and len(coco["annotations"]) == 2
    second = coco["annotations"][1]
    decoded = mask_utils.decode(
        {
            "size": second["segmentation"]["size"],
            "counts": second["segmentation"]["counts"].encode(),
        }
    )
    assert np.array_equal(decoded.astype(bool), mask)
    assert (
        second["area"]
        == int(mask.sum())
        == int(
            mask_utils.area(
                {"size": [400, 600], "counts": second["segmentation"]["counts"].encode()}
            )
        )
    )

    # Object names are free text: quotes, ampersands, angle brackets, spaces.
    app.rename(0, 'the "cup" & <saucer>')
    svg = ET.fromstring(app.download("svg"))  # well-formed XML, whatever the names
    paths = svg.findall("{http://www.w3.org/2000/svg}path")
    assert len(paths) == 2 and svg.get("viewBox") == "0 0 600 400"
    ids = [p.get("id") for p in paths]
    assert len(set(ids)) == 2 and all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9._-]*", i) for i in ids), (
        ids
    )
    titles = [p.findtext("{http://www.w3.org/2000/svg}title") for p in paths]
    assert titles == ['the "cup" & <saucer>', "object 2"]
    assert [p.get("data-name") for p in paths] == titles
    # The outlines are exact: their signed area (holes subtract) is the mask's pixel count.
    area = 0.0
    for loop in re.findall(r"M([^Z]+)Z", paths[1].get("d")):
        xy = np.array([list(map(float, p.split())) for p in re.split(r"[ML]", "M" + loop) if p])
        area += 0.5 * np.sum(xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1])
    assert abs(area) == mask.sum()


def test_undo_redo_and_clear(app, photo_files):
    app.upload(photo_files["coffee"])
    app.click(0.5, 0.5)
    app.click(0.3, 0.3)
    assert len(app.objects()[0]["points"]) == 2
    app.press("undo")
    assert len(app.objects()[0]["points"]) == 1
    app.press("redo")
    assert len(app.objects()[0]["points"]) == 2
    app.press("clear")
    assert app.objects()[0]["points"] == []


def _blob_requests(page, sink):
    page.on("request", lambda r: sink.append(r) if "/blobs/" in r.url else None)


def test_second_visit_downloads_no_model_bytes_and_clear_cache(context, server, shot):
    first = []
    page = context.new_page()
    _blob_requests(page, first)
    app = AppPage(page, server.url).open()
    assert len(first) >= 2 and "downloaded" in app.status()
    assert "2 cached model file(s)" in app.page.inner_text("#storage-info")
    second = []
    _blob_requests(page, second)
    app.open()
    assert second == [] and "from cache" in app.status()
    shot(page, "cached")
    app.page.click("#clear-cache")
    assert "0 cached model file(s)" in wait_for_text(app.page, "#storage-info", "0 cached")
    third = []
    _blob_requests(page, third)
    app.open()
    assert len(third) >= 2 and "downloaded" in app.status()


def test_an_image_opened_while_the_model_loads_is_encoded_once(
    context, server, photo_files, predictor
):
    """A person drops an image before the model is ready: it shows at once and is encoded once,
    when the model is ready (not once queued behind the load and again after it)."""
    held = []
    context.route("**/blobs/*", lambda route: held.append(route))  # held until released below
    app = AppPage(context.new_page(), server.url)
    app.page.goto(server.url)
    while not held:
        app.page.wait_for_timeout(50)
    app.upload(photo_files["chelsea"], expect_encode=False)
    status = wait_for_text(app.page, "#status", "encoded as soon as")
    assert "Image loaded; it is encoded as soon as" in status, status
    assert app.page.is_visible("#stage")
    for route in list(held):
        route.continue_()
    context.unroute("**/blobs/*")  # lets through any request held since
    app.wait_ready()  # the model, and the encode that follows it
    assert app._data("encodes") == "1", app.status()
    assert "Encoded 451×300" in app.status()
    assert app._data("featuresLocation") == "cpu"  # WASM: host memory is where they are computed
    app.click(0.45, 0.5)
    predictor.set_image(photo_files["chelsea"])
    expected, _, _ = replay(predictor, [("point", *app.objects()[0]["points"][0])])
    assert iou(app.mask(), expected) >= 0.99


def test_two_tabs_opened_at_once_download_the_model_once(context, server, photo_files, predictor):
    """A second tab opened while the first still downloads waits for it and reads the model from
    the cache (an OPFS file takes one writer: it used to fail with the browser's lock error)."""
    held = []
    context.route("**/blobs/*", lambda route: held.append(route))  # the first download hangs...
    first, second = (AppPage(context.new_page(), server.url) for _ in range(2))
    first.page.goto(server.url)
    while not held:
        first.page.wait_for_timeout(50)
    second.page.goto(server.url)
    status = wait_for_text(second.page, "#status", "Waiting for another tab")
    assert "Waiting for another tab of sam2web that is downloading the encoder" in status, status
    for route in list(held):  # ...until the second tab is waiting for it
        route.continue_()
    context.unroute("**/blobs/*")
    first.wait_ready()
    second.wait_ready()
    assert "ready on WASM" in first.status() and "ready on WASM" in second.status()
    # Each file came over the network once, for one of the two tabs.
    blobs = [u for app in (first, second) for u in app.requests if "/blobs/" in u]
    assert sorted(blobs) == sorted(server.blob_urls("sam2.1-hiera-test-fp32"))
    assert "from cache" in second.status(), second.status()
    second.upload(photo_files["chelsea"])
    second.click(0.45, 0.5)
    predictor.set_image(photo_files["chelsea"])
    expected, _, _ = replay(predictor, [("point", *second.objects()[0]["points"][0])])
    assert iou(second.mask(), expected) >= 0.99


def test_plain_http_from_another_device_says_how_to_get_a_secure_context(lan_browser, server, shot):
    """http:// on a LAN address is no secure context: no OPFS, no WebGPU. The app says so and how
    to fix it (localhost or --https) instead of failing on a missing browser API."""
    page = lan_browser.new_page()
    app = AppPage(page, f"http://sam2web-lan.test:{server.port}/")
    page.goto(app.url)
    assert page.evaluate("window.isSecureContext") is False
    status = wait_for_text(page, "#status", "not a secure context")
    assert (
        f"opened at http://sam2web-lan.test:{server.port}, which is not a secure context" in status
    ), status
    assert "sam2web serve --https" in status and "http://localhost" in status
    assert not [
        u for u in app.requests if "/blobs/" in u
    ]  # nothing downloaded that could not be kept
    webgpu = page.inner_text("#notice-webgpu")
    assert "not a secure context (WebGPU needs https:// or localhost)" in webgpu, webgpu
    assert "sam2web serve --https" in webgpu and "chrome://flags" not in webgpu
    shot(page, "insecure")


def _serve_half(route, size: int):
    """Answers with the first half of the file, as a connection that drops there."""
    response = route.fetch()
    half = response.body()[: size // 2]
    route.fulfill(
        status=200, body=half, headers={**response.headers, "content-length": str(len(half))}
    )


def test_interrupted_download_resumes(context, server):
    manifest = json.loads(open(server.store / "sam2.1-hiera-test-fp32" / "manifest.json").read())
    sha = manifest["files"]["decoder"]["sha256"]
    size = manifest["files"]["decoder"]["bytes"]
    seen = []

    def cut_then_stall(route):
        seen.append(route.request.headers.get("range"))
        if len(seen) == 1:  # the connection "drops" after half the file
            _serve_half(route, size)
        elif len(seen) == 2:
            pass  # ...then the server never answers: the app gives up on it and asks again
        else:
            route.fallback()

    context.route(f"**/blobs/{sha}", cut_then_stall)
    app = AppPage(context.new_page(), server.url).open()
    assert "ready on WASM" in app.status(), app.status()
    assert seen == [None, f"bytes={size // 2}-", f"bytes={size // 2}-"]


def test_a_download_can_be_cancelled_and_resumes_when_chosen_again(context, server):
    model = "sam2.1-hiera-test-fp32"
    manifest = json.loads(open(server.store / model / "manifest.json").read())
    sha, size = manifest["files"]["decoder"]["sha256"], manifest["files"]["decoder"]["bytes"]
    seen = []

    def half_then_hang(route):
        seen.append(route.request.headers.get("range"))
        if len(seen) == 1:  # half the file arrives, then the connection drops...
            _serve_half(route, size)
        elif len(seen) > 2:
            route.fallback()
        # ...and the second request hangs until the user cancels

    context.route(f"**/blobs/{sha}", half_then_hang)
    app = AppPage(context.new_page(), server.url)
    app.page.goto(server.url)
    app.wait_until(lambda: len(seen) == 2, "the download resumes and hangs")
    assert app.page.is_visible("#progress")
    app.page.click("#cancel-load")
    status = wait_for_text(app.page, "#status", "Stopped loading")
    assert "Choose it again to carry on" in status, status
    assert not app.page.is_visible("#progress")
    assert app.page.input_value("#model-select") == ""  # nothing is loaded
    app.page.select_option("#model-select", model)
    status = wait_for_text(app.page, "#status", "ready on WASM")
    assert "ready on WASM" in status, status
    assert seen[2] == f"bytes={size // 2}-"  # the half kept from before the cancel, not refetched


def test_tampered_model_file_is_rejected(plain_browser, tmp_path, fp32_bundle, shot):
    store = make_store(tmp_path / "store", [fp32_bundle])
    target = store / "sam2.1-hiera-test-fp32" / "decoder.onnx"
    data = bytearray(target.read_bytes())
    data[1000] ^= 0xFF
    target.write_bytes(bytes(data))  # same size, different bytes, after the store's own check
    server = Server(store)
    try:
        ctx = plain_browser.new_context()
        page = ctx.new_page()
        page.goto(server.url)
        status = wait_for_text(page, "#status", "failed verification")
        assert "decoder failed verification" in status and "tampered" in status
        assert "error" in page.get_attribute("#status", "class")
        shot(page, "tampered")
        ctx.close()
    finally:
        server.stop()


def test_wrong_file_types_get_a_clear_message_and_keep_the_image(app, photo_files, tmp_path, shot):
    app.upload(photo_files["coffee"])
    app.click(0.5, 0.5)
    text = tmp_path / "notes.png"
    text.write_text("this is text, not a picture")
    app.upload(text, expect_encode=False)
    app.page.wait_for_timeout(300)
    assert (
        "“notes.png” is not a supported image (it looks like a SVG or other text)" in app.status()
    )
    pdf = tmp_path / "doc.jpg"
    pdf.write_bytes(b"%PDF-1.4\n" + b"0" * 100)
    app.upload(pdf, expect_encode=False)
    app.page.wait_for_timeout(300)
    assert "PDF document" in app.status()
    full = tmp_path / "full.png"
    Image.new("RGB", (300, 200), (200, 10, 10)).save(full)
    broken = tmp_path / "broken.png"
    broken.write_bytes(full.read_bytes()[:60])
    app.upload(broken, expect_encode=False)
    app.page.wait_for_timeout(500)
    assert "corrupt or truncated" in app.status()
    # The earlier image and its mask are still there.
    assert app.objects()[0]["points"] and app.mask().shape == (400, 600)
    shot(app.page, "bad-file")


def test_csp_blocks_off_origin_requests(app, tmp_path):
    import http.server
    import threading

    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{other.server_address[1]}/exfiltrate"
        result = app.page.evaluate(
            """async (url) => {
                const violations = [];
                document.addEventListener('securitypolicyviolation',
                    (e) => violations.push(e.violatedDirective));
                try { await fetch(url, {method: 'POST', body: 'pixels'}); return 'sent'; }
                catch (e) {
                    await new Promise((r) => setTimeout(r, 100));
                    return 'blocked:' + violations.join(',');
                }
            }""",
            url,
        )
        assert result.startswith("blocked") and "connect-src" in result
        assert hits == []
    finally:
        other.shutdown()
