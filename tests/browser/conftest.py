"""Browser fixtures: `sam2web serve` as a user runs it, and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from serve_helpers import Server, make_store

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BASE_FLAGS = [
    "--no-sandbox",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
# WebGPU without a GPU: SwiftShader's Vulkan adapter (see shared/docs/webgpu-headless.md).
WEBGPU_FLAGS = ["--enable-unsafe-webgpu"]
# ...or ANGLE over Mesa llvmpipe, an OpenGL ES compatibility adapter: 3-10x faster here.
WEBGPU_COMPAT_FLAGS = WEBGPU_FLAGS + ["--use-angle=gl-egl", "--use-webgpu-adapter=opengles"]


@pytest.fixture(scope="session")
def server(tmp_path_factory, fp32_bundle):
    srv = Server(make_store(tmp_path_factory.mktemp("store"), [fp32_bundle]))
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    with sync_playwright() as p:
        yield p


def launch(playwright_instance, webgpu: bool, flags=WEBGPU_FLAGS):
    return playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=BASE_FLAGS + (flags if webgpu else [])
    )


@pytest.fixture(scope="session")
def webgpu_browser(playwright_instance):
    browser = launch(playwright_instance, webgpu=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def webgpu_compat_browser(playwright_instance):
    """WebGPU through ANGLE/OpenGL ES (a compatibility adapter), which the app prefers over a
    CPU-emulated (software) core adapter."""
    browser = launch(playwright_instance, webgpu=True, flags=WEBGPU_COMPAT_FLAGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def lan_browser(playwright_instance):
    """Reaches the local server by a LAN-style name (`sam2web-lan.test`), as another device would:
    plain http:// there is not a secure context."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=BASE_FLAGS + ["--host-resolver-rules=MAP sam2web-lan.test 127.0.0.1"],
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def plain_browser(playwright_instance):
    """Chromium with no WebGPU adapter at all (no flags): the app must fall back to WASM."""
    browser = launch(playwright_instance, webgpu=False)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def camera_browser(playwright_instance):
    """Chromium (no WebGPU) with its fake camera (a moving test pattern); permission prompts are
    denied: a context given the "camera" permission gets the camera, any other is refused."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=BASE_FLAGS + ["--use-fake-device-for-media-stream", "--deny-permission-prompts"],
    )
    yield browser
    browser.close()


@pytest.fixture
def shot(request):
    ARTIFACTS.mkdir(exist_ok=True)

    def save(page, name: str):
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{name}.png"))

    return save


@pytest.fixture(scope="session")
def photo_files(tmp_path_factory, photos):
    from PIL import Image

    root = tmp_path_factory.mktemp("photos")
    paths = {}
    for name in ("coffee", "chelsea", "rocket-portrait"):
        paths[name] = root / f"{name}.png"
        Image.fromarray(photos[name]).save(paths[name])
    return paths


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    """A fresh install: an empty model store, the built-in model only."""
    srv = Server(tmp_path_factory.mktemp("empty-store"), builtin=True)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def coins_png(tmp_path_factory, photos):
    """scikit-image's coins (24 coins on a plain background) as a PNG to drop on the page."""
    path = tmp_path_factory.mktemp("coins") / "coins.png"
    Image.fromarray(photos["coins"]).save(path)
    return path
