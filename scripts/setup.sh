#!/usr/bin/env bash
# Set up a fresh machine for sam2web: Chromium (for the browser tests), then a virtual environment
# in .venv with the package (editable, which builds the web app with npm), its export, test and
# batch (Ray) extras, CPU PyTorch and the official sam2 package.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's Chromium drives the browser tests (never a downloaded browser build); Node.js and npm
# build the web app into the package.
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "please install: ${need[*]} (apt-get install ${need[*]})" >&2
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
# CPU build of torch first, so nothing below pulls a CUDA build.
.venv/bin/pip install -q torch==2.13.0
# The official sam2 package declares torchvision (no CPU build here; it would pull CUDA torch):
# install it alone, its real needs come with sam2web[export].
.venv/bin/pip install -q --no-deps sam2==1.1.0
.venv/bin/pip install -q -e '.[export,test,batch]'
echo "setup done: $(.venv/bin/sam2web --help >/dev/null && echo 'sam2web ok')"
