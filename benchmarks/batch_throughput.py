"""Images per second of `sam2web batch segment` with 1 and 2 Ray workers (more with --workers),
for segment-everything (--all) and for point prompts, on real photos (scikit-image's data files).

Each configuration is a fresh `sam2web batch segment ... --json` process (its own local Ray,
started with num_cpus = workers) on a fresh output folder; the figures are the command's own
summary: images/s over the whole run (Ray's start-up and the workers' model loading included)
and once the workers are up (from the N-th result to the last, N workers), plus the wall time.
A row "no Ray" runs the same per-file code (batch.workers.Worker) in the benchmark's process, one
file after another (its "up" rate excludes the model loading).
With one worker ONNX Runtime uses its default intra-op threads; with several, one thread each.

    .venv/bin/python benchmarks/batch_throughput.py [--images 10] [--workers 1 --workers 2]
        [--points-per-side 8] [--model ID] [--out benchmarks/results/batch-cpu/results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
    "camera.png",
    "coins.png",
)


def photo_folder(dest: Path, count: int) -> list[dict]:
    """`count` real photos in `dest`; -> a prompts.jsonl's lines (one click at the centre)."""
    import skimage
    from PIL import Image

    data = Path(skimage.__file__).parent / "data"
    names = [n for n in PHOTOS if (data / n).is_file()][:count]
    if len(names) < count:
        raise SystemExit(f"only {len(names)} of scikit-image's photos are here")
    lines = []
    for name in names:
        shutil.copy(data / name, dest / name)
        with Image.open(dest / name) as im:
            w, h = im.size
        lines.append({"file": name, "points": [[w / 2, h / 2]]})
    return lines


def run(args: list[str]) -> dict:
    sam2web = str(Path(sys.executable).parent / "sam2web")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local Ray each time
    started = time.perf_counter()
    proc = subprocess.run([sam2web, "batch", "segment", *args, "--json"], capture_output=True,
                          text=True, env=env)  # fmt: skip
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"sam2web batch segment failed:\n{proc.stderr}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**summary, "wall_s": round(wall, 2)}


def no_ray(inputs: Path, lines: list[dict], mode: str, pps: int, model, tmp: Path) -> dict:
    """The same per-file work (batch.workers.Worker) in this process, one file after another,
    no Ray: what Ray adds or saves is the difference."""
    from sam2web.batch.workers import Worker
    from sam2web.store import ModelStore

    manifest = ModelStore().get(model)
    settings = {"points_per_side": pps} if mode == "all" else {}
    config = {"command": "segment", "bundle": str(manifest.root), "mode": mode,
              "settings": settings, "png": True}  # fmt: skip
    started = time.perf_counter()
    worker = Worker(config)
    loaded = time.perf_counter()
    for i, line in enumerate(lines):
        task = {"key": line["file"], "path": str(inputs / line["file"]),
                "staging": str(tmp / f"no-ray-{mode}" / str(i)), "prompts": None}  # fmt: skip
        if mode == "points":
            task["prompts"] = {"objects": [{**line, "labels": [1], "box": None}]}
        result = worker.process(task)
        assert result["ok"], result
    end = time.perf_counter()
    return {
        "mode": mode,
        "workers": "no Ray",
        "images": len(lines),
        "failed": 0,
        "images_per_s": round(len(lines) / (end - started), 4),
        "images_per_s_after_first": round(len(lines) / (end - loaded), 4),
        "first_result_s": None,
        "wall_s": round(end - started, 2),
        "model": manifest.id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--points-per-side", type=int, default=8)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=None)
    opts = parser.parse_args()
    workers = opts.workers or [1, 2]
    load_before = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = tmp / "photos"
        inputs.mkdir()
        lines = photo_folder(inputs, opts.images)
        prompts = tmp / "prompts.jsonl"
        prompts.write_text("".join(json.dumps(line) + "\n" for line in lines))
        model = ["--model", opts.model] if opts.model else []
        modes = {
            "all": ["--all", "--points-per-side", str(opts.points_per_side)],
            "points": ["--prompts", str(prompts)],
        }
        for mode, mode_args in modes.items():
            row = no_ray(inputs, lines, mode, opts.points_per_side, opts.model, tmp)
            rows.append(row)
            print(json.dumps(row), flush=True)
            for n in workers:
                out = tmp / f"out-{mode}-{n}"
                s = run([str(inputs), "--out", str(out), "--workers", str(n), *mode_args, *model])
                row = {
                    "mode": mode,
                    "workers": n,
                    "images": s["done"],
                    "failed": s["failed"],
                    "images_per_s": s["files_per_s"],
                    "images_per_s_after_first": s["files_per_s_steady"],
                    "first_result_s": s["first_result_s"],
                    "wall_s": s["wall_s"],
                    "model": s["model"],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    result = {
        "benchmark": "sam2web batch segment throughput",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # Other jobs on the machine: the 1-minute load average before and after the runs.
            "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        },
        "points_per_side": opts.points_per_side,
        "rows": rows,
    }
    print()
    print(f"{'mode':8} {'workers':>7} {'images':>6} {'img/s':>7} {'img/s up':>9} {'wall s':>7}")
    for r in rows:
        after = r["images_per_s_after_first"]
        print(
            f"{r['mode']:8} {str(r['workers']):>7} {r['images']:>6} {r['images_per_s']:>7.3f} "
            f"{after if after is None else format(after, '.3f'):>9} {r['wall_s']:>7.1f}"
        )
    if opts.out:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
