"""`sam2web convert`: COCO or LabelMe annotations (the app's exports, `segment --all`'s
masks.json, or another tool's) into another dataset format."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sam2web.errors import BadAnnotationError
from sam2web.formats.dataset import DATASET_FORMATS, write_dataset


def _check_format(value: str) -> str:
    if value not in DATASET_FORMATS:
        raise typer.BadParameter(
            f"unknown format {value!r}; choose from {', '.join(DATASET_FORMATS)}"
        )
    return value


def read_annotations(paths: list[Path]):
    """COCO files (any number of images each) and LabelMe files (one image each), by content."""
    from sam2web.formats.coco import read_coco
    from sam2web.formats.labelme import read_labelme

    images = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise BadAnnotationError(f"{path}: not a JSON file ({exc})") from None
        if isinstance(doc, dict) and "shapes" in doc:
            images.append(read_labelme(doc))
        elif isinstance(doc, dict) and "images" in doc:
            images.extend(read_coco(doc))
        else:
            raise BadAnnotationError(
                f"{path}: neither COCO (images, annotations) nor LabelMe (shapes)"
            )
    return images


def convert(
    sources: list[Path] = typer.Argument(..., help="COCO JSON or LabelMe JSON files."),
    to: str = typer.Option(
        ..., "--to", callback=_check_format, help="coco, yolo, labelme or cvat."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the dataset into."),
    images: Path | None = typer.Option(
        None, "--images", help="Folder holding the images: they are copied into the dataset."
    ),
    force: bool = typer.Option(False, "--force", help="Replace files the dataset already has."),
) -> None:
    """Convert annotations between dataset formats (polygon formats fill holes)."""
    written = write_dataset(read_annotations(sources), to, out_dir, image_dir=images, force=force)
    typer.echo(f"wrote {len(written)} file(s) in {out_dir}")
