"""Browser fixtures: `sam2web serve` as a user runs it, and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BASE_FLAGS = ["--no-sandbox", "--no-first-run", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--disable-quic"]
# WebGPU without a GPU: SwiftShader's Vulkan adapter (see shared/docs/webgpu-headless.md).
WEBGPU_FLAGS = ["--enable-unsafe-webgpu"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, store: Path):
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sam2web.cli", "serve", "--port", str(self.port),
             "--models", str(store)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "api/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"sam2web serve did not start: {self.proc.stdout.read()}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_store(root: Path, bundles: list[Path]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for bundle in bundles:
        subprocess.run([sys.executable, "-m", "sam2web.cli", "models", "add", str(bundle),
                        "--models", str(root), "--allow-random-weights"], check=True,
                       capture_output=True)
    return root


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


def launch(playwright_instance, webgpu: bool):
    return playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=BASE_FLAGS + (WEBGPU_FLAGS if webgpu else []))


@pytest.fixture(scope="session")
def webgpu_browser(playwright_instance):
    browser = launch(playwright_instance, webgpu=True)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def plain_browser(playwright_instance):
    """Chromium with no WebGPU adapter at all (no flags): the app must fall back to WASM."""
    browser = launch(playwright_instance, webgpu=False)
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


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
