"""A session as a person has it: the demo image, paste and drop, changing model and image mid-way,
the full-size tiny model, a full storage quota, and an empty model store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou, wait_for_text
from replay import replay
from serve_helpers import Server, make_store


@pytest.fixture(scope="module")
def precisions_server(tmp_path_factory, exported):
    """The test model in fp32, int8 and fp16."""
    srv = Server(
        make_store(
            tmp_path_factory.mktemp("precisions"),
            [exported[p].path for p in ("fp32", "int8", "fp16")],
        )
    )
    yield srv
    srv.stop()


def _open(browser, url, query=""):
    ctx = browser.new_context(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    return ctx, AppPage(ctx.new_page(), url).open(query)


def test_demo_image_paste_and_drop(plain_browser, server, photo_files, shot):
    ctx, app = _open(plain_browser, server.url)
    before = app._data("encoded")
    app.page.click("#demo-button")
    app._wait_change("encoded", before)
    assert "Encoded 512×512" in app.status()
    shot(app.page, "demo")
    data = list(photo_files["coffee"].read_bytes())
    for event in ("paste", "drop"):  # a paste on the window, a drop on the stage
        before = app._data("encoded")
        app.page.evaluate(
            """([bytes, event]) => {
                const file = new File([new Uint8Array(bytes)], 'coffee.png', {type: 'image/png'});
                const dt = new DataTransfer();
                dt.items.add(file);
                if (event === 'paste') {
                  window.dispatchEvent(
                    new ClipboardEvent('paste', {clipboardData: dt, bubbles: true}));
                } else {
                  document.getElementById('stage').dispatchEvent(
                    new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
                }
            }""",
            [data, event],
        )
        app._wait_change("encoded", before)
        assert "Encoded 600×400" in app.status()
    ctx.close()


def test_change_model_and_image_mid_session(
    plain_browser, precisions_server, exported, photo_files, shot
):
    ctx, app = _open(plain_browser, precisions_server.url)
    assert app.page.locator("#model-select option").count() == 3
    # fp32 by default where there is no GPU with shader-f16
    assert app.page.input_value("#model-select") == "sam2.1-hiera-test-fp32"
    app.upload(photo_files["coffee"])
    app.click(0.5, 0.5)
    point = app.objects()[0]["points"][0]

    # Switch to int8: the image is re-encoded and the object re-decoded with the new model.
    encoded, rendered = app._data("encoded"), app._data("rendered")
    app.page.select_option("#model-select", "sam2.1-hiera-test-int8")
    app._wait_change("encoded", encoded)
    app._wait_change("rendered", rendered)  # the redraw after re-encoding and re-decoding
    assert "Decoded in" in app.status()
    int8 = Predictor.from_bundle(exported["int8"].path)
    int8.set_image(photo_files["coffee"])
    expected, _, _ = replay(int8, [("point", *point)])
    assert iou(app.mask(), expected) >= 0.99
    shot(app.page, "int8")

    # Change the image: the old work is gone, the new image is encoded with the current model.
    app.upload(photo_files["rocket-portrait"], input_id="change-image")
    assert "Encoded 427×640" in app.status()
    assert app.objects()[0]["points"] == []
    app.click(0.5, 0.3)
    int8.set_image(photo_files["rocket-portrait"])
    expected, _, _ = replay(int8, [("point", *app.objects()[0]["points"][0])])
    got = app.mask()
    assert got.shape == (640, 427) and iou(got, expected) >= 0.99
    shot(app.page, "rocket")

    # fp16 (what a GPU with shader-f16 gets; here on WASM): onnxruntime-web runs the fp16 graphs
    # to the Python predictor's masks.
    encoded, rendered = app._data("encoded"), app._data("rendered")
    app.page.select_option("#model-select", "sam2.1-hiera-test-fp16")
    app._wait_change("encoded", encoded)
    app._wait_change("rendered", rendered)
    fp16 = Predictor.from_bundle(exported["fp16"].path)
    fp16.set_image(photo_files["rocket-portrait"])
    expected, _, _ = replay(fp16, [("point", *app.objects()[0]["points"][0])])
    assert iou(app.mask(), expected) >= 0.99
    ctx.close()


@pytest.mark.slow  # full size: exports SAM2.1 tiny (~1 min) before the browser runs it
def test_full_size_tiny_model_in_the_browser(
    plain_browser, tmp_path, tiny_bundle, photo_files, shot
):
    server = Server(make_store(tmp_path / "store", [tiny_bundle]))
    try:
        ctx, app = _open(plain_browser, server.url)
        assert "sam2.1-hiera-tiny" in app.status() and "ready on WASM" in app.status()
        app.upload(photo_files["chelsea"])
        app.click(0.45, 0.5)
        predictor = Predictor.from_bundle(tiny_bundle)
        predictor.set_image(photo_files["chelsea"])
        expected, _, _ = replay(predictor, [("point", *app.objects()[0]["points"][0])])
        assert iou(app.mask(), expected) >= 0.99
        shot(app.page, "tiny")
        ctx.close()
    finally:
        server.stop()


def test_too_small_storage_quota_never_uses_a_broken_model(plain_browser, server, shot):
    """Chromium with its quota overridden to 2 MB silently drops OPFS writes (no error is raised
    and estimate() does not show the override), so the app cannot tell it is a quota problem;
    the sha256 check must still stop the broken file from being used, with a visible error."""
    ctx = plain_browser.new_context()
    page = ctx.new_page()
    page.goto(server.url + "api/models")  # same origin, before the app starts downloading
    cdp = ctx.new_cdp_session(page)
    cdp.send(
        "Storage.overrideQuotaForOrigin", {"origin": server.url.rstrip("/"), "quotaSize": 2_000_000}
    )
    page.goto(server.url)
    status = wait_for_text(page, "#status", "Could not load", 30)
    assert "failed verification" in status or "storage is full" in status, status
    assert "error" in page.get_attribute("#status", "class")
    assert "ready on" not in status
    shot(page, "quota")
    ctx.close()


@pytest.fixture
def tiny_disk():
    """A 12 MB file system for a browser profile: a real full disk, not a simulated quota."""
    import subprocess
    import tempfile

    mountpoint = Path(tempfile.mkdtemp())
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip()}); needs root")
    yield mountpoint
    subprocess.run(["umount", str(mountpoint)], check=True)


def test_a_full_disk_gets_a_clear_storage_message(playwright_instance, server, tiny_disk, shot):
    from conftest import BASE_FLAGS, CHROMIUM

    ctx = playwright_instance.chromium.launch_persistent_context(
        str(tiny_disk / "profile"), executable_path=CHROMIUM, headless=True, args=BASE_FLAGS
    )
    try:
        page = ctx.new_page()
        page.goto(server.url)
        status = wait_for_text(page, "#status", "Could not load", 120)
        assert re.search(
            r"browser storage is full: the (encoder|decoder) needs [\d.]+ MB", status
        ), status
        assert "disk holding the browser's data is full" in status or "may store only" in status
        assert "Clear cached models" in status and "error" in page.get_attribute("#status", "class")
        shot(page, "full-disk")
        # The half-written file can be cleared away from the page.
        page.click("#clear-cache")
        assert "Cached models cleared" in wait_for_text(page, "#status", "cleared", 30)
        info = wait_for_text(page, "#storage-info", "0 cached model file(s), 0.0 MB", 30)
        assert info.startswith("0 cached model file(s), 0.0 MB"), info
    finally:
        ctx.close()


def test_empty_store_says_how_to_add_a_model(plain_browser, tmp_path, shot):
    server = Server(tmp_path / "empty")
    try:
        ctx, app = _open(plain_browser, server.url)
        notice = app.page.inner_text("#notice-models")
        assert "No models are installed" in notice and "sam2web export" in notice
        assert app.page.is_disabled("#model-select")
        shot(app.page, "empty")
        ctx.close()
    finally:
        server.stop()


@pytest.mark.parametrize(
    "fmt, ext, kwargs",
    [
        ("WEBP", "webp", {"lossless": True}),
        ("BMP", "bmp", {}),
        ("GIF", "gif", {}),
        ("AVIF", "avif", {"quality": 100}),
    ],
)
def test_other_image_formats_match_python(
    plain_browser, server, photos, tmp_path, fmt, ext, kwargs, fp32_bundle
):
    from PIL import Image

    path = tmp_path / f"chelsea.{ext}"
    Image.fromarray(photos["chelsea"]).save(path, format=fmt, **kwargs)
    ctx, app = _open(plain_browser, server.url)
    app.upload(path)
    assert "Encoded 451×300" in app.status()
    app.click(0.45, 0.5)
    predictor = Predictor.from_bundle(fp32_bundle)
    predictor.set_image(path)  # Pillow decodes the same file (GIF: its first frame)
    expected, _, _ = replay(predictor, [("point", *app.objects()[0]["points"][0])])
    # Lossy AVIF decoders may differ by a grey level here and there; the masks must not.
    assert iou(app.mask(), expected) >= 0.99
    ctx.close()


def test_choosing_another_candidate_mask(plain_browser, server, photo_files, fp32_bundle):
    ctx, app = _open(plain_browser, server.url)
    app.upload(photo_files["coffee"])
    app.click(0.5, 0.5)
    chips = app.page.locator("#candidates button")
    assert chips.count() == 3
    obj = app.objects()[0]
    other = next(i for i in range(3) if i != obj["chosen"])
    assert chips.nth(other).inner_text().startswith(f"Mask {other + 1}: ")
    rendered = app._data("rendered")
    chips.nth(other).click()
    app._wait_change("rendered", rendered)
    assert app.objects()[0]["chosen"] == other
    predictor = Predictor.from_bundle(fp32_bundle)
    predictor.set_image(photo_files["coffee"])
    r = predictor.predict(points=[obj["points"][0][:2]])
    assert iou(app.mask(), r.masks[other]) >= 0.99
    ctx.close()
