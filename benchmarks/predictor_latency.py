"""Python predictor latency and bundle sizes, per model size and precision.

Exports each requested model (random weights unless --checkpoint-dir has official checkpoints)
into a cache directory, then times the encoder (set_image) and the decoder (predict) as the median
of several runs on a real photo. Prints a table and writes JSON (stdout with --json).

    .venv/bin/python benchmarks/predictor_latency.py --models sam2.1-hiera-tiny \
        --precisions fp32 fp16 int8 --runs 5
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def _median_ms(fn, runs: int) -> float:
    fn()  # warm-up: first runs pay allocation and kernel selection
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def ensure_bundle(model: str, precision: str, cache: Path, checkpoint_dir: Path | None) -> Path:
    from sam2web.export.bundle import bundle_id, export_bundles
    from sam2web.export.models import get_spec

    spec = get_spec(model)
    target = cache / bundle_id(spec, precision)
    if not (target / "manifest.json").is_file():
        checkpoint = None
        if checkpoint_dir and spec.checkpoint_url:
            candidate = checkpoint_dir / spec.checkpoint_url.rsplit("/", 1)[1]
            checkpoint = candidate if candidate.is_file() else None
        export_bundles(
            model,
            cache,
            checkpoint=checkpoint,
            precisions=(precision,),
            verify=False,
            force=True,
            log=lambda m: print(m, file=sys.stderr),
        )
    return target


def bench(bundle: Path, image: np.ndarray, runs: int, threads: int | None) -> dict:
    from sam2web.manifest import read_manifest
    from sam2web.predict.predictor import Predictor

    manifest = read_manifest(bundle)
    predictor = Predictor(manifest, verify=False, threads=threads)
    h, w = image.shape[:2]
    encode_ms = _median_ms(lambda: predictor.set_image(image), runs)
    click = dict(points=[[w / 2, h / 2]], labels=[1])
    decode_ms = _median_ms(lambda: predictor.predict(**click), runs * 4)
    return {
        "bundle": manifest.bundle_id,
        "model": manifest.model_id,
        "precision": manifest.precision,
        "encoder_ms": round(encode_ms, 1),
        "decoder_ms": round(decode_ms, 2),
        "encoder_bytes": manifest.files["encoder"].bytes,
        "decoder_bytes": manifest.files["decoder"].bytes,
        "total_mb": round(manifest.total_bytes() / 1e6, 1),
        "random_weights": manifest.random_weights,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["sam2.1-hiera-test", "sam2.1-hiera-tiny"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "fp16", "int8"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=Path("bench-results/bundles"))
    parser.add_argument("--checkpoint-dir", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--out", type=Path, default=Path("bench-results/predictor_latency.json"))
    args = parser.parse_args(argv)

    from sam2web.export.photos import real_photos

    image = real_photos()["coffee"]
    rows = []
    for model in args.models:
        for precision in args.precisions:
            bundle = ensure_bundle(model, precision, args.cache, args.checkpoint_dir)
            rows.append(bench(bundle, image, args.runs, args.threads))
            print(f"done {rows[-1]['bundle']}", file=sys.stderr)
    report = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "image": "skimage coffee 600x400",
        "runs": args.runs,
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="sam2web Python predictor (ONNX Runtime CPU), median ms")
    for col in ("bundle", "encoder ms", "decoder ms", "encoder MB", "decoder MB", "total MB"):
        table.add_column(col, justify="right" if col != "bundle" else "left", no_wrap=True)
    for r in rows:
        table.add_row(
            r["bundle"],
            f"{r['encoder_ms']:.1f}",
            f"{r['decoder_ms']:.2f}",
            f"{r['encoder_bytes'] / 1e6:.1f}",
            f"{r['decoder_bytes'] / 1e6:.1f}",
            f"{r['total_mb']:.1f}",
        )
    Console(width=max(100, Console().width)).print(table)
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
