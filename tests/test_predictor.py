"""The Python predictor against the official SAM2ImagePredictor (same weights, real photos)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sam2web.errors import BadImageError, BadPromptError
from sam2web.export.verify import compare, mask_iou, official_predictor
from sam2web.predict.predictor import Predictor


@pytest.fixture(scope="module")
def ours(fp32_bundle):
    return Predictor.from_bundle(fp32_bundle)


@pytest.fixture(scope="module")
def official(finetuned_torch_model):
    return official_predictor(finetuned_torch_model)


def test_parity_with_official_on_real_photos(ours, official, photos):
    assert len({im.shape[0] / im.shape[1] for im in photos.values()}) >= 5  # aspect ratios
    report = compare(official, ours, photos)
    assert report["encoder_cosine_min"] > 0.9999
    for prompt, iou in report["mask_iou_min"].items():
        assert iou >= 0.99, (prompt, report["detail"])


def test_masks_are_at_original_resolution_and_not_trivial(ours, photos):
    image = photos["coffee"]  # 400x600
    ours.set_image(image)
    r = ours.predict(points=[[300, 200]], labels=[1])
    assert r.masks.shape == (3, 400, 600) and r.masks.dtype == bool
    assert r.scores.shape == (3,) and r.low_res_logits.shape == (3, 256, 256)
    fractions = r.masks.mean(axis=(1, 2))
    assert ((fractions > 0.001) & (fractions < 0.999)).any()
    single = ours.predict(points=[[300, 200]], multimask=False)
    assert single.masks.shape == (1, 400, 600)


def test_several_boxes_at_once_match_official_and_single_calls(ours, official, photos):
    image = photos["astronaut"]
    boxes = np.array([[50, 20, 300, 400], [200, 100, 500, 500], [10, 300, 200, 510]], np.float32)
    ours.set_image(image)
    official.set_image(image)
    batched = ours.predict(box=boxes, multimask=False)
    ref_masks, ref_scores, _ = official.predict(box=boxes, multimask_output=False)
    assert batched.masks.shape == (3, 1, 512, 512) == ref_masks.shape
    for i, box in enumerate(boxes):
        assert mask_iou(batched.masks[i, 0], ref_masks[i, 0]) >= 0.99
        alone = ours.predict(box=box, multimask=False)
        assert mask_iou(batched.masks[i, 0], alone.masks[0]) >= 0.999
    np.testing.assert_allclose(batched.scores, ref_scores, atol=1e-3)


def test_refinement_changes_the_mask_like_official(ours, official, photos):
    image = photos["chelsea"]
    ours.set_image(image)
    official.set_image(image)
    first = ours.predict(points=[[225, 150]])
    ref_first = official.predict(point_coords=np.array([[225, 150]]), point_labels=np.array([1]))
    np.testing.assert_allclose(first.low_res_logits, ref_first[2], atol=1e-2)
    assert np.abs(first.low_res_logits).max() <= 32.0  # clamped like the official predictor
    mask_in = first.low_res_logits[np.argmax(first.scores)][None]
    refined = ours.predict(
        points=[[225, 150], [100, 60]], labels=[1, 0], mask_input=mask_in, multimask=False
    )
    ref = official.predict(
        point_coords=np.array([[225, 150], [100, 60]]),
        point_labels=np.array([1, 0]),
        mask_input=ref_first[2][np.argmax(ref_first[1])][None],
        multimask_output=False,
    )
    assert mask_iou(refined.masks[0], ref[0][0]) >= 0.99


def test_inputs_of_every_kind(ours, photos, tmp_path):
    image = photos["rocket-portrait"]
    path = tmp_path / "rocket.png"
    Image.fromarray(image).save(path)
    results = []
    for source in (
        image,
        Image.fromarray(image),
        path,
        str(path),
        np.dstack([image, np.full(image.shape[:2], 255, np.uint8)]),
    ):
        ours.set_image(source)
        results.append(ours.predict(points=[[200, 300]]).masks)
    for r in results[1:]:
        assert np.array_equal(r, results[0])
    ours.set_image(photos["coins"][:, :, 0])  # greyscale (H, W)
    assert ours.predict(points=[[10, 10]]).masks.shape == (3, 303, 384)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(points=[[700, 10]]), "outside the 600x400 image"),
        (dict(points=[[10, -1]]), "outside"),
        (dict(points=[[np.nan, 10]]), "NaN"),
        (dict(points=[[np.inf, 10]]), "NaN or infinite"),
        (dict(points=[[10, 10]], labels=[5]), "1 \\(positive\\) or 0"),
        (dict(points=[[10, 10]], labels=[1, 0]), "2 labels given for 1 points"),
        (dict(box=[100, 100, 50, 50]), "x0<=x1"),
        (dict(box=[0, 0, 601, 100]), "outside"),
        (dict(), "at least one point or a box"),
        (dict(points=[[10, 10]], mask_input=np.zeros((64, 64))), "mask_input"),
    ],
)
def test_bad_prompts_are_explained(ours, photos, kwargs, message):
    ours.set_image(photos["coffee"])
    with pytest.raises(BadPromptError, match=message):
        ours.predict(**kwargs)
    assert ours.predict(points=[[5, 5]]).masks.shape == (3, 400, 600)  # still usable


def test_bad_images_are_explained_and_keep_the_previous_image(ours, photos, tmp_path):
    ours.set_image(photos["coffee"])
    with pytest.raises(BadImageError, match="zero size"):
        ours.set_image(np.zeros((0, 10, 3), np.uint8))
    with pytest.raises(BadImageError, match="NaN"):
        ours.set_image(np.full((10, 10, 3), np.nan))
    with pytest.raises(BadImageError, match="must be"):
        ours.set_image(np.zeros((10, 10, 5), np.uint8))
    # a failed set_image leaves the previously encoded image in place
    assert ours.predict(points=[[5, 5]]).masks.shape == (3, 400, 600)


@pytest.mark.parametrize("hw", [(1, 20000), (20000, 1), (1, 300), (300, 1)])
def test_one_pixel_strips_match_official(ours, official, hw):
    # SAM2 squashes any image to 1024x1024 and upsamples masks back to (h, w): a 1-px side is a
    # 1-px resize source and a 1-px upsampling target, the same in PyTorch and here.
    h, w = hw
    n = h * w
    ramp = (np.arange(n) * 255 // n).astype(np.uint8).reshape(h, w)
    image = np.dstack([ramp, 255 - ramp, np.full_like(ramp, 90)])
    ours.set_image(image)
    official.set_image(image)
    point = np.array([[w / 3, h / 3]], np.float32)
    r = ours.predict(points=point, multimask=True)
    ref_masks, ref_scores, ref_low = official.predict(
        point_coords=point, point_labels=np.array([1])
    )
    assert r.masks.shape == ref_masks.shape == (3, h, w)
    np.testing.assert_allclose(r.low_res_logits, ref_low, atol=1e-2)
    np.testing.assert_allclose(r.scores, ref_scores, atol=1e-3)
    assert (r.masks == ref_masks).mean() > 0.999
