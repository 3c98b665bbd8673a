"""YOLO segmentation (Ultralytics' layout): labels/<image stem>.txt with one line per connected
part of each object, `class x1 y1 x2 y2 ...` in coordinates normalised to the image size, and
data.yaml naming the classes. Polygons go through the boundary pixels' centres (holes filled)."""

from __future__ import annotations

import json

from sam2web.errors import BadAnnotationError
from sam2web.formats.objects import ImageAnnotations, LabelledMask
from sam2web.formats.polygons import outer_polygons, polygons_to_mask


def yolo_lines(image: ImageAnnotations, classes: list[str]) -> str:
    lines = []
    for o in image.objects:
        cls = classes.index(o.label)
        for polygon in outer_polygons(o.mask):
            coords = " ".join(
                f"{x / image.width:.6f} {y / image.height:.6f}"
                for x, y in (
                    (min(max(x, 0), image.width), min(max(y, 0), image.height)) for x, y in polygon
                )
            )
            lines.append(f"{cls} {coords}")
    return "".join(line + "\n" for line in lines)


def data_yaml(classes: list[str]) -> str:
    """Class names as JSON strings (valid YAML double-quoted scalars, whatever the name holds)."""
    names = "".join(f"  {i}: {json.dumps(name)}\n" for i, name in enumerate(classes))
    return (
        "# YOLO segmentation dataset written by sam2web: images/<name>, labels/<stem>.txt\n"
        "path: .\ntrain: images\nval: images\n"
        f"nc: {len(classes)}\nnames:\n{names}"
    )


def read_yolo_labels(text: str, classes: list[str], height: int, width: int) -> list[LabelledMask]:
    """One labels file back into masks: every line a polygon of its class (parts of one object
    are separate lines, so each line is its own mask)."""
    objects = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        values = line.split()
        try:
            cls, coords = int(values[0]), [float(v) for v in values[1:]]
            label = classes[cls]
        except (ValueError, IndexError):
            raise BadAnnotationError(f"line {n}: not `class x1 y1 x2 y2 ...`") from None
        if len(coords) < 6 or len(coords) % 2:
            raise BadAnnotationError(f"line {n}: a polygon needs at least 3 x,y pairs")
        # Written through pixel centres (integers): rounding undoes the 6-decimal normalisation.
        pairs = zip(coords[0::2], coords[1::2], strict=True)
        points = [(round(x * width), round(y * height)) for x, y in pairs]
        objects.append(LabelledMask(label, polygons_to_mask([points], height, width)))
    return objects
