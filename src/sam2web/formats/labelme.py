"""LabelMe JSON: one file per image, one polygon shape per connected part of each object (parts
of one object share a `group_id`). Polygons go through the boundary pixels' centres, so
LabelMe's own rasteriser (`labelme.utils.shape_to_mask`: PIL, outline included) gives back the
mask with its holes filled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sam2web.errors import BadAnnotationError
from sam2web.formats.objects import ImageAnnotations, LabelledMask
from sam2web.formats.polygons import outer_polygons, polygons_to_mask

LABELME_VERSION = "5.5.0"  # the file layout written (LabelMe 5.x and later read it)


def labelme_document(image: ImageAnnotations) -> dict:
    shapes = []
    for group, o in enumerate(image.objects, start=1):
        for polygon in outer_polygons(o.mask):
            shapes.append(
                {
                    "label": o.label,
                    "points": [[float(x), float(y)] for x, y in polygon],
                    "group_id": group,
                    "description": "",
                    "shape_type": "polygon",
                    "flags": {},
                    "mask": None,
                }
            )
    return {
        "version": LABELME_VERSION,
        "flags": {},
        "shapes": shapes,
        "imagePath": image.file_name,
        "imageData": None,
        "imageHeight": image.height,
        "imageWidth": image.width,
    }


def read_labelme(source: Path | str | dict) -> ImageAnnotations:
    """Polygon and rectangle shapes as masks: one object per group_id (else per shape)."""
    try:
        doc = source if isinstance(source, dict) else json.loads(Path(source).read_text())
        height, width = int(doc["imageHeight"]), int(doc["imageWidth"])
        image = ImageAnnotations(doc.get("imagePath") or "", width, height)
        groups: dict[object, LabelledMask] = {}
        for i, shape in enumerate(doc["shapes"]):
            kind = shape.get("shape_type") or "polygon"
            points = [(float(x), float(y)) for x, y in shape["points"]]
            if kind == "rectangle":
                (x0, y0), (x1, y1) = points
                points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
            elif kind != "polygon":
                raise BadAnnotationError(f"shape {i} is a {kind!r}: only polygons and rectangles")
            if len(points) < 3:
                raise BadAnnotationError(f"shape {i} has {len(points)} points (a polygon needs 3)")
            mask = polygons_to_mask([points], height, width)
            key = (shape["label"], shape["group_id"]) if shape.get("group_id") is not None else i
            if key in groups:
                groups[key].mask = np.logical_or(groups[key].mask, mask)
            else:
                groups[key] = LabelledMask(str(shape["label"]), mask)
        image.objects = list(groups.values())
    except BadAnnotationError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadAnnotationError(f"not a LabelMe JSON file: {exc!r}") from None
    return image
