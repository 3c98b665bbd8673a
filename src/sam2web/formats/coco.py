"""COCO instance annotations: written with RLE masks (exact), read back from RLE (compact or
uncompressed counts) or polygons (rasterised through pixel centres, as `polygons_to_mask`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sam2web.errors import BadAnnotationError
from sam2web.formats.objects import ImageAnnotations, LabelledMask
from sam2web.formats.polygons import polygons_to_mask
from sam2web.masks import bbox_xywh, rle_encode, rle_string_counts


def coco_document(images: list[ImageAnnotations]) -> dict:
    labels = list(dict.fromkeys(label for image in images for label in image.labels()))
    category = {label: i + 1 for i, label in enumerate(labels)}
    doc_images, annotations = [], []
    for image_id, image in enumerate(images, start=1):
        doc_images.append(
            {
                "id": image_id,
                "file_name": image.file_name,
                "width": image.width,
                "height": image.height,
            }
        )
        for o in image.objects:
            box = bbox_xywh(o.mask)
            if box is None:
                continue
            annotation = {
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": category[o.label],
                "iscrowd": 0,
                "area": int(o.mask.sum()),
                "bbox": box,
                "segmentation": rle_encode(o.mask),
            }
            if o.score is not None:
                annotation["score"] = o.score
            annotations.append(annotation)
    return {
        "images": doc_images,
        "categories": [{"id": i, "name": label} for label, i in category.items()],
        "annotations": annotations,
    }


def _rle_mask(segmentation: dict, height: int, width: int) -> np.ndarray:
    size = segmentation.get("size")
    if size != [height, width]:
        raise BadAnnotationError(f"RLE size {size} is not the image's [{height}, {width}]")
    counts = segmentation["counts"]
    counts = rle_string_counts(counts) if isinstance(counts, str) else np.asarray(counts, np.int64)
    if counts.sum() != height * width or (counts < 0).any():
        raise BadAnnotationError("RLE counts do not cover the image exactly")
    values = np.zeros(len(counts), bool)
    values[1::2] = True
    # Column-major runs, as pycocotools stores them.
    return np.repeat(values, counts).reshape(width, height).T


def read_coco(source: Path | str | dict) -> list[ImageAnnotations]:
    """Every image of a COCO instances file, each annotation a mask named by its category
    (`sam2web_name`, the app's object name, where the file has one)."""
    try:
        doc = source if isinstance(source, dict) else json.loads(Path(source).read_text())
        categories = {c["id"]: c["name"] for c in doc.get("categories", [])}
        images = {
            im["id"]: ImageAnnotations(im["file_name"], int(im["width"]), int(im["height"]))
            for im in doc["images"]
        }
        for a in doc.get("annotations", []):
            image = images[a["image_id"]]
            seg = a["segmentation"]
            if isinstance(seg, dict):
                mask = _rle_mask(seg, image.height, image.width)
            else:
                pairs = [list(zip(p[0::2], p[1::2], strict=True)) for p in seg]
                mask = polygons_to_mask(pairs, image.height, image.width)
            label = a.get("sam2web_name") or categories.get(a.get("category_id"), "object")
            image.objects.append(LabelledMask(str(label), mask, a.get("score")))
    except BadAnnotationError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadAnnotationError(f"not a COCO instances file: {exc!r}") from None
    return list(images.values())
