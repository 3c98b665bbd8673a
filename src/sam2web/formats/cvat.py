"""CVAT XML 1.1: "CVAT for images" (an <image> per image, a <polygon> per connected part of each
object) and "CVAT for video" (a <track> per object, one <polygon> per frame: its largest part,
`outside="1"` on frames where the object is absent). Points go through the boundary pixels'
centres, "x1,y1;x2,y2;..."."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import numpy as np

from sam2web.formats.objects import ImageAnnotations
from sam2web.formats.polygons import outer_polygons


def points_attr(polygon) -> str:
    return ";".join(f"{x:.2f},{y:.2f}" for x, y in polygon)


def _meta(root: ET.Element, labels: list[str], mode: str, size: int) -> None:
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "name").text = "sam2web"
    ET.SubElement(task, "size").text = str(size)
    ET.SubElement(task, "mode").text = mode
    xml_labels = ET.SubElement(task, "labels")
    for label in labels:
        element = ET.SubElement(xml_labels, "label")
        ET.SubElement(element, "name").text = label
        ET.SubElement(element, "type").text = "polygon"


def _document(root: ET.Element) -> bytes:
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def cvat_images_xml(images: list[ImageAnnotations]) -> bytes:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    labels = list(dict.fromkeys(label for image in images for label in image.labels()))
    _meta(root, labels, "annotation", len(images))
    for image_id, image in enumerate(images):
        element = ET.SubElement(
            root,
            "image",
            id=str(image_id),
            name=image.file_name,
            width=str(image.width),
            height=str(image.height),
        )
        for group, o in enumerate(image.objects, start=1):
            for polygon in outer_polygons(o.mask):
                attrs = {"label": o.label, "source": "semi-auto", "occluded": "0"}
                attrs.update(points=points_attr(polygon), z_order="0", group_id=str(group))
                ET.SubElement(element, "polygon", attrs)
    return _document(root)


class CvatVideoTracks:
    """Collects tracked frames, then writes one <track> per object."""

    def __init__(self, width: int, height: int, label_of=lambda obj_id: f"object {obj_id}"):
        self.width, self.height = width, height
        self.label_of = label_of
        self.frames: list[int] = []
        self.shapes: dict[int, dict[int, list | None]] = {}  # object -> frame -> polygon

    def add(self, frame_idx: int, obj_ids, masks: np.ndarray) -> None:
        self.frames.append(int(frame_idx))
        for obj_id, mask in zip(obj_ids, masks, strict=True):
            polygons = outer_polygons(mask) if mask.any() else []
            self.shapes.setdefault(int(obj_id), {})[int(frame_idx)] = (
                polygons[0] if polygons else None
            )

    def xml(self) -> bytes:
        root = ET.Element("annotations")
        ET.SubElement(root, "version").text = "1.1"
        labels = list(dict.fromkeys(self.label_of(i) for i in sorted(self.shapes)))
        _meta(root, labels, "interpolation", len(self.frames))
        for track_id, obj_id in enumerate(sorted(self.shapes)):
            track = ET.SubElement(
                root, "track", id=str(track_id), label=self.label_of(obj_id), source="semi-auto"
            )
            last = None
            for frame_idx in sorted(self.shapes[obj_id]):
                polygon = self.shapes[obj_id][frame_idx]
                if polygon is None and last is None:
                    continue  # not yet seen: CVAT tracks start on their first shape
                attrs = {"frame": str(frame_idx), "keyframe": "1", "occluded": "0", "z_order": "0"}
                attrs["outside"] = "1" if polygon is None else "0"
                attrs["points"] = points_attr(polygon if polygon is not None else last)
                ET.SubElement(track, "polygon", attrs)
                last = polygon if polygon is not None else last
        return _document(root)
