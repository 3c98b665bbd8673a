"""`sam2web batch segment|track`: many files at once, on Ray (sam2web.batch).

Per input file, OUT/<its relative path without extension>/ holds what the single-file commands
write: segment -> masks.json (COCO, as `segment --all --out`) and masks/mask_0001.png... (one PNG
per mask, as `--png-dir`; `--no-png` leaves them out); track -> the track command's formats
(masks/00000.png..., tracks.json, ...). Plus OUT/merged.coco.json (every finished file, ids
unique), OUT/failures.json ([{file, path, reason}]) and the ledger in OUT/.sam2web-batch/.

Exit status: 0 when the batch ran to its end, failed files included (they are listed in
failures.json and the summary); 2 with --strict when any file failed; 130 after Ctrl-C (every
output on disk is complete; a rerun goes on where it stopped); 1 for a problem before any work
(bad options, prompts file or INPUT).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sam2web import cli_everything as E
from sam2web.cli_options import BuiltinOption, StoreOption
from sam2web.errors import Sam2WebError

batch_app = typer.Typer(
    help="Segment or track many files (a folder, a glob, a CSV/JSONL manifest) on Ray.",
    no_args_is_help=True,
)

InputArgument = typer.Argument(
    ...,
    metavar="INPUT",
    help="A folder (searched recursively), a glob in quotes ('photos/**/*.jpg') or a manifest "
    "(.csv with a 'file' column, .jsonl with {\"file\": ...} lines).",
)
OutOption = typer.Option(..., "--out", help="Folder for the results (one sub-folder per file).")
WorkersOption = typer.Option(
    1, "--workers", min=1, help="Ray workers, each with its own ONNX Runtime session."
)
DeviceOption = typer.Option(
    "auto",
    "--device",
    help="auto (a GPU provider where ONNX Runtime has one), gpu (required) or cpu.",
)
GpusOption = typer.Option(
    None,
    "--gpus-per-worker",
    help="GPUs Ray reserves per worker (default: 1 with --device gpu, else 0).",
)
JsonOption = typer.Option(False, "--json", help="Print the summary as JSON (no progress bar).")
StrictOption = typer.Option(False, "--strict", help="Exit with status 2 when any file failed.")


def _check_device(device: str) -> str:
    if device not in ("auto", "gpu", "cpu"):
        raise Sam2WebError(f"--device {device!r}: choose auto, gpu or cpu")
    return device


def _worker_threads(workers: int) -> int | None:
    # Several workers on one machine: one intra-op thread each (else they fight over the cores).
    return 1 if workers > 1 else None


@batch_app.command("segment")
def batch_segment(
    source: str = InputArgument,
    out_dir: Path = OutOption,
    everything: bool = typer.Option(
        False, "--all", help="Segment everything in each image (segment --all's generator)."
    ),
    prompts: Path | None = typer.Option(
        None,
        "--prompts",
        help="prompts.jsonl: one JSON object per line with file, points, labels, box (or "
        "objects, a list of those, for several masks).",
    ),
    model: str | None = typer.Option(None, help="Installed model id (default: best installed)."),
    png: bool = typer.Option(True, "--png/--no-png", help="Also one PNG per mask."),
    workers: int = WorkersOption,
    device: str = DeviceOption,
    gpus_per_worker: float | None = GpusOption,
    as_json: bool = JsonOption,
    strict: bool = StrictOption,
    models: Path | None = StoreOption,
    builtin: bool = BuiltinOption,
    points_per_side: int = E.PointsPerSideOption,
    points_per_batch: int = E.PointsPerBatchOption,
    pred_iou_thresh: float | None = E.PredIouOption,
    stability_score_thresh: float = E.StabilityOption,
    stability_score_offset: float = E.StabilityOffsetOption,
    box_nms_thresh: float = E.BoxNmsOption,
    crop_n_layers: int = E.CropLayersOption,
    crop_nms_thresh: float = E.CropNmsOption,
    crop_overlap_ratio: float = E.CropOverlapOption,
    crop_n_points_downscale_factor: int = E.CropDownscaleOption,
    min_mask_region_area: int = E.MinAreaOption,
    mask_threshold: float | None = E.MaskThresholdOption,
    multimask: bool = E.MultimaskOption,
    use_m2m: bool = E.M2mOption,
):
    """Segment every image of INPUT: everything in it (--all) or the objects of prompts.jsonl."""
    from sam2web.batch.inputs import attach_prompts, make_items, resolve_inputs
    from sam2web.cli import _store, announce_model

    if everything == (prompts is not None):
        raise Sam2WebError("give one of --all or --prompts prompts.jsonl")
    device = _check_device(device)
    base, files = resolve_inputs(source, "image", exclude=out_dir)
    items = make_items(base, files)
    if prompts is not None:
        attach_prompts(items, prompts, "image")
    manifest = _store(models, builtin).get(model)
    settings = {}
    if everything:
        settings = E.generator_settings(locals())
        # The generator's own checks (grid, thresholds) and the bundle loading, before any
        # worker starts.
        from sam2web.predict.automatic import AutomaticMaskGenerator
        from sam2web.predict.image import Predictor

        AutomaticMaskGenerator(Predictor(manifest), **settings)
    announce_model(manifest, quiet=as_json)
    mode = "all" if everything else "prompts"
    config = {
        "command": "segment",
        "bundle": str(manifest.root),
        "mode": mode,
        "settings": settings,
        "png": png,
        "device": device,
        "threads": _worker_threads(workers),
    }
    params = {"command": "segment", "mode": mode, "settings": settings, "png": png}
    _run(out_dir, "segment", items, manifest, config, params, workers, device, gpus_per_worker,
         as_json, strict)  # fmt: skip


@batch_app.command("track")
def batch_track(
    source: str = InputArgument,
    prompts: Path = typer.Option(
        ...,
        "--prompts",
        help="prompts.jsonl: one JSON object per line with file, objects (each with obj_id, "
        "frame, points, labels, box) and optionally start, end, reverse.",
    ),
    out_dir: Path = OutOption,
    model: str | None = typer.Option(
        None, help="Installed model id with video graphs (default: the best installed one)."
    ),
    formats: list[str] = typer.Option(
        ["png", "coco"],
        "--format",
        metavar="FORMAT",
        help="png, coco, mp4 or cvat, as the track command; repeat for several (coco, "
        "tracks.json, is always written: the merged file is made from it).",
    ),
    workers: int = WorkersOption,
    device: str = DeviceOption,
    gpus_per_worker: float | None = GpusOption,
    as_json: bool = JsonOption,
    strict: bool = StrictOption,
    models: Path | None = StoreOption,
    builtin: bool = BuiltinOption,
):
    """Track the objects of prompts.jsonl through every video of INPUT."""
    from sam2web.batch.inputs import attach_prompts, make_items, resolve_inputs
    from sam2web.cli import _check_track_formats, _store, _video_model, announce_model

    formats = _check_track_formats([*formats, "coco"])
    device = _check_device(device)
    base, files = resolve_inputs(source, "video", exclude=out_dir)
    items = attach_prompts(make_items(base, files), prompts, "video")
    manifest = _video_model(_store(models, builtin), model)
    announce_model(manifest, quiet=True)  # as the track command: random weights are announced
    config = {
        "command": "track",
        "bundle": str(manifest.root),
        "formats": formats,
        "device": device,
        "threads": _worker_threads(workers),
    }
    params = {"command": "track", "formats": sorted(formats)}
    _run(out_dir, "track", items, manifest, config, params, workers, device, gpus_per_worker,
         as_json, strict)  # fmt: skip


def _run(out_dir, command, items, manifest, config, params, workers, device, gpus, as_json, strict):
    from sam2web.batch import jobs

    if out_dir.exists() and not out_dir.is_dir():
        raise Sam2WebError(f"--out {out_dir} is a file, not a folder")
    if gpus is None:
        gpus = 1.0 if device == "gpu" else 0.0
    batch = jobs.Batch(
        command=command,
        out_dir=out_dir,
        items=items,
        manifest=manifest,
        config=config,
        params=params,
        workers=workers,
        gpus_per_worker=gpus,
        needs_prompts=config["command"] == "track" or config.get("mode") == "prompts",
    )
    summary = jobs.run(batch, progress=None if as_json else RichProgress(command))
    if as_json:
        print(json.dumps(summary))
    else:
        _print_summary(summary)
    if summary["interrupted"]:
        raise typer.Exit(130)
    if strict and summary["failed"]:
        raise typer.Exit(2)


class RichProgress:
    """The bar on stderr: done/total, files/s, failures, elapsed and remaining time."""

    def __init__(self, command: str):
        from rich.progress import TextColumn

        from sam2web.cli import err
        from sam2web.progress_bar import rate_progress

        failed = TextColumn("{task.fields[failed]} failed")
        self.progress = rate_progress(f"batch {command}", "files", err, failed)
        self.failed = 0

    def start(self, total: int, skipped: int) -> None:
        from sam2web.cli import err

        if skipped:
            err.print(f"{skipped} file(s) already done (ledger): skipped", highlight=False)
        self.progress.start()
        self.task = self.progress.add_task("batch", total=total, failed=0)

    def advance(self, ok: bool) -> None:
        self.failed += not ok
        self.progress.update(self.task, advance=1, failed=self.failed)

    def stop(self) -> None:
        self.progress.stop()


def _print_summary(summary: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from sam2web.cli import err, out

    table = Table(title=f"sam2web batch {summary['command']}: {summary['out']}")
    table.add_column("")
    table.add_column("", justify="right")
    rate, steady = summary["files_per_s"], summary["files_per_s_steady"]
    for name, value in (
        ("files", summary["total"]),
        ("done now", summary["done"]),
        ("skipped (done before)", summary["skipped"]),
        ("without prompts (left out)", summary["without_prompts"]),
        ("failed", summary["failed"]),
        ("files/s (whole run)", "-" if rate is None else f"{rate:.2f}"),
        ("files/s (workers up)", "-" if steady is None else f"{steady:.2f}"),
        ("seconds", f"{summary['seconds']:.1f}"),
        ("workers", summary["workers"]),
        ("model", summary["model"]),
    ):
        table.add_row(name, str(value))
    out.print(table)
    for f in summary["failures"]:
        err.print(f"[red]failed[/red] {escape(f['file'])}: {escape(f['reason'])}", highlight=False)
    out.print(f"merged COCO: {summary['merged']}", highlight=False)
    if summary["failures"]:
        out.print(f"failures: {summary['failures_file']}", highlight=False)
    if summary["interrupted"]:
        err.print("interrupted: every output written is complete; rerun to go on")
