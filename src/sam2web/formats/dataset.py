"""Writing a dataset folder in one format: every file the format needs, nothing outside the
folder, and nothing overwritten without `force` (checked before the first file is written)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sam2web.atomic import write_bytes_atomic
from sam2web.errors import OutputError
from sam2web.formats.coco import coco_document
from sam2web.formats.cvat import cvat_images_xml
from sam2web.formats.labelme import labelme_document
from sam2web.formats.objects import ImageAnnotations
from sam2web.formats.yolo import data_yaml, yolo_lines

DATASET_FORMATS = ("coco", "yolo", "labelme", "cvat")


def _safe_stem(file_name: str) -> str:
    """An image's name without folders or extension: labels are written beside each other."""
    stem = Path(file_name.replace("\\", "/")).stem
    if not stem or stem in (".", ".."):
        raise OutputError(f"image name {file_name!r} gives no file name for its labels")
    return stem


def dataset_files(images: list[ImageAnnotations], fmt: str) -> dict[str, bytes]:
    """Relative path -> contents of every file `fmt` writes for these images."""
    if fmt == "coco":
        return {"annotations.json": json.dumps(coco_document(images)).encode()}
    if fmt == "cvat":
        return {"annotations.xml": cvat_images_xml(images)}
    files: dict[str, bytes] = {}
    if fmt == "labelme":
        for image in images:
            files[f"{_safe_stem(image.file_name)}.json"] = json.dumps(
                labelme_document(image), indent=2
            ).encode()
    elif fmt == "yolo":
        classes = list(dict.fromkeys(label for image in images for label in image.labels()))
        files["data.yaml"] = data_yaml(classes).encode()
        for image in images:
            files[f"labels/{_safe_stem(image.file_name)}.txt"] = yolo_lines(image, classes).encode()
    else:
        raise OutputError(f"unknown format {fmt!r}; choose from {', '.join(DATASET_FORMATS)}")
    stems = [_safe_stem(image.file_name) for image in images]
    if len(set(stems)) != len(stems):
        raise OutputError(f"two images share a name stem: {fmt} writes one file per stem")
    return files


def write_dataset(
    images: list[ImageAnnotations],
    fmt: str,
    out_dir: Path,
    *,
    image_dir: Path | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the dataset; with `image_dir`, copy each image into it too (YOLO: images/, the
    others: beside their labels). Returns the paths written."""
    out_dir = Path(out_dir)
    files = dataset_files(images, fmt)
    copies: dict[str, Path] = {}
    if image_dir is not None:
        target = "images/" if fmt == "yolo" else ""
        for image in images:
            source = Path(image_dir) / image.file_name
            if not source.is_file():
                raise OutputError(f"image {image.file_name!r} is not in {image_dir}")
            copies[target + Path(image.file_name).name] = source
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder")
    existing = [str(out_dir / p) for p in [*files, *copies] if (out_dir / p).exists()]
    if existing and not force:
        raise OutputError(
            f"{out_dir} already has {', '.join(existing[:3])}"
            f"{' ...' if len(existing) > 3 else ''}; use --force to replace, or another --out"
        )
    written = []
    try:
        for relative, data in files.items():
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, data)
            written.append(path)
        for relative, source in copies.items():
            path = out_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, path)
            written.append(path)
    except OSError as exc:
        raise OutputError(f"cannot write to {out_dir} ({exc.strerror or exc})") from None
    return written
