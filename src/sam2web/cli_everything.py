"""`sam2web segment IMAGE --all`: segment everything, written as COCO JSON (and PNGs).

The options are sam2web.AutomaticMaskGenerator's parameters (the official automatic mask
generator's), declared here and added to `segment` in cli.py.

masks.json: COCO-style, one image, one annotation per mask, best first: `segmentation` (pycocotools'
compact RLE), `area`, `bbox` (COCO's [x, y, width, height] of the mask's pixels), `iscrowd` 0, and
the generator's own fields `predicted_iou`, `stability_score`, `point_coords` (the grid point that
made the mask) and `crop_box`. --png-dir DIR: DIR/mask_0001.png, ... in the same order (255 inside).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sam2web.errors import OutputError, Sam2WebError

AllOption = typer.Option(
    False,
    "--all",
    help="Segment everything: masks for the whole image from a grid of point prompts (the "
    "official automatic mask generator); --out is then a COCO JSON file.",
)
PngDirOption = typer.Option(
    None, "--png-dir", help="With --all: also one mask PNG per mask in this directory."
)
PointsPerSideOption = typer.Option(
    32, "--points-per-side", help="With --all: grid points along each side."
)
PointsPerBatchOption = typer.Option(
    64, "--points-per-batch", help="With --all: points decoded together (memory, not results)."
)
PredIouOption = typer.Option(
    None,
    "--pred-iou-thresh",
    help="With --all: keep masks whose predicted IoU is above this (default: 0.8 for SAM2, "
    "0.88 for SAM1-family models, as the official generators).",
)
StabilityOption = typer.Option(
    0.95, "--stability-score-thresh", help="With --all: minimum stability score."
)
StabilityOffsetOption = typer.Option(
    1.0, "--stability-score-offset", help="With --all: logit offset of the stability score."
)
BoxNmsOption = typer.Option(
    0.7, "--box-nms-thresh", help="With --all: box IoU above which duplicates are dropped."
)
CropLayersOption = typer.Option(
    0, "--crop-n-layers", help="With --all: also segment overlapping crops, this many layers."
)
CropNmsOption = typer.Option(
    0.7, "--crop-nms-thresh", help="With --all: box IoU for duplicates across crops."
)
CropOverlapOption = typer.Option(
    512 / 1500, "--crop-overlap-ratio", help="With --all: how much crops overlap."
)
CropDownscaleOption = typer.Option(
    1,
    "--crop-n-points-downscale-factor",
    help="With --all: crop layer i has points-per-side / factor**i points a side.",
)
MinAreaOption = typer.Option(
    0,
    "--min-mask-region-area",
    help="With --all: remove holes and specks up to this area (0: off).",
)
MaskThresholdOption = typer.Option(
    None, "--mask-threshold", help="With --all: logit threshold of a mask (default: the model's)."
)
MultimaskOption = typer.Option(
    True, "--multimask/--no-multimask", help="With --all: three candidates per point (SAM2)."
)
M2mOption = typer.Option(
    False, "--use-m2m", help="With --all: SAM2's one-step refinement of each mask."
)


# The generator's settings, by the name of the command's parameter that carries each.
_SETTING_OF_OPTION = {
    "points_per_side": "points_per_side",
    "points_per_batch": "points_per_batch",
    "pred_iou_thresh": "pred_iou_thresh",
    "stability_score_thresh": "stability_score_thresh",
    "stability_score_offset": "stability_score_offset",
    "box_nms_thresh": "box_nms_thresh",
    "crop_n_layers": "crop_n_layers",
    "crop_nms_thresh": "crop_nms_thresh",
    "crop_overlap_ratio": "crop_overlap_ratio",
    "crop_n_points_downscale_factor": "crop_n_points_downscale_factor",
    "min_mask_region_area": "min_mask_region_area",
    "mask_threshold": "mask_threshold",
    "multimask": "multimask_output",
    "use_m2m": "use_m2m",
}


def generator_settings(options: dict) -> dict:
    """AutomaticMaskGenerator keyword arguments from a command's parameters (its locals())."""
    return {setting: options[option] for option, setting in _SETTING_OF_OPTION.items()}


def coco_document(records: list[dict], image: str, hw: tuple[int, int], model: str) -> dict:
    """COCO-style JSON for the generator's uncompressed_rle records (see the module docstring)."""
    from sam2web.predict.amg import coco_encode_rle

    h, w = hw
    annotations = []
    for i, r in enumerate(records, start=1):
        x, y, bw, bh = r["bbox"]  # the generator's box: last pixel inclusive
        box = [int(x), int(y), int(bw) + 1, int(bh) + 1] if r["area"] else [0, 0, 0, 0]
        annotations.append(
            {
                "id": i,
                "image_id": 1,
                "category_id": 1,
                "segmentation": coco_encode_rle(r["segmentation"]),
                "area": int(r["area"]),
                "bbox": box,
                "iscrowd": 0,
                "predicted_iou": round(r["predicted_iou"], 6),
                "stability_score": round(r["stability_score"], 6),
                "point_coords": [[round(v, 3) for v in p] for p in r["point_coords"]],
                "crop_box": [int(v) for v in r["crop_box"]],
            }
        )
    return {
        "info": {"description": "sam2web segment --all", "model": model},
        "images": [{"id": 1, "file_name": image, "width": w, "height": h}],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "object"}],
    }


def segment_everything(
    image: Path,
    manifest,
    out_path: Path,
    png_dir: Path | None,
    settings: dict,
    quiet: bool,
    announce,
    generator=None,
) -> dict:
    """Run the generator with `settings` (AutomaticMaskGenerator keyword arguments) and write
    the outputs; `announce()` tells the user about the model once the inputs are checked.
    `generator`: one already made with `settings` (output_mode uncompressed_rle) on `manifest`,
    reused across images (the batch workers); by default one is made here.
    -> the summary printed by the command."""
    from sam2web.atomic import write_bytes_atomic
    from sam2web.images import load_image
    from sam2web.masks import save_mask_png
    from sam2web.predict.amg import rle_to_mask
    from sam2web.predict.automatic import AutomaticMaskGenerator
    from sam2web.predict.image import Predictor

    if out_path.resolve() == image.resolve():
        raise Sam2WebError(f"refusing to overwrite the input image {image}")
    if out_path.is_dir():
        raise OutputError(f"--out {out_path} is a directory; give the JSON file to write")
    if not out_path.parent.is_dir():
        raise OutputError(f"--out: the directory {out_path.parent} does not exist")
    if png_dir is not None and png_dir.exists() and not png_dir.is_dir():
        raise OutputError(f"--png-dir {png_dir} exists and is not a directory")
    rgb = load_image(image)
    announce()
    if generator is None:
        generator = AutomaticMaskGenerator(
            Predictor(manifest), output_mode="uncompressed_rle", **settings
        )
    generator.check_image_size(rgb.shape[:2])  # before any model work
    records = _generate(generator, rgb, quiet)
    document = coco_document(records, image.name, rgb.shape[:2], manifest.id)
    write_bytes_atomic(out_path, (json.dumps(document) + "\n").encode())
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        for i, record in enumerate(records, start=1):
            save_mask_png(rle_to_mask(record["segmentation"]), png_dir / f"mask_{i:04d}.png")
    return {
        "image": str(image),
        "width": rgb.shape[1],
        "height": rgb.shape[0],
        "model": manifest.id,
        "masks": len(records),
        "decoder": "batched" if generator.batched else "one point per run",
        "out": str(out_path),
        "png_dir": str(png_dir) if png_dir else None,
    }


def _generate(generator, rgb, quiet: bool) -> list[dict]:
    if quiet:
        return generator.generate(rgb)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    )
    with progress:
        task = progress.add_task("grid points", total=None)
        return generator.generate(
            rgb, progress=lambda done, total: progress.update(task, completed=done, total=total)
        )
