"""Parity of an exported bundle with official PyTorch SAM2 on real photos."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

# Minimum mask IoU against PyTorch per precision (the acceptance bar).
IOU_THRESHOLDS = {"fp32": 0.99, "fp16": 0.95, "fp16w": 0.95, "int8": 0.95}


def passes(parity: dict, precision: str) -> bool:
    """fp32 must match outright. For fp16/int8 a single-mask case whose candidates all match
    (>= 0.99) but whose stability-based pick flipped is a tie, not a failure."""
    threshold = IOU_THRESHOLDS[precision]
    for row in parity["detail"]:
        iou = row["iou"]
        if precision != "fp32" and row.get("candidates_iou", 0) >= 0.99:
            iou = max(iou, row["candidates_iou"])
        if iou < threshold:
            return False
    return True


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def prompt_cases(h: int, w: int) -> dict[str, dict]:
    """The prompt types every parity check covers, placed relative to the image size."""
    centre = [w * 0.5, h * 0.5]
    box = [w * 0.25, h * 0.2, w * 0.75, h * 0.8]
    return {
        "point": dict(points=[centre], labels=[1], multimask=True),
        "points+negative": dict(
            points=[centre, [w * 0.2, h * 0.25]], labels=[1, 0], multimask=False
        ),
        "box": dict(box=box, multimask=False),
        "box+point": dict(box=box, points=[[w * 0.55, h * 0.45]], labels=[1], multimask=False),
        "refine": dict(
            points=[centre, [w * 0.7, h * 0.6]], labels=[1, 1], multimask=False, refine=True
        ),
    }


def official_predictor(model):
    from sam2web.export.torchvision_shim import install_if_missing

    install_if_missing()
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    return SAM2ImagePredictor(model)


def _official_predict(pred, case: dict, mask_input=None):
    kwargs = dict(multimask_output=case["multimask"], mask_input=mask_input)
    if "points" in case:
        kwargs.update(
            point_coords=np.asarray(case["points"], np.float32),
            point_labels=np.asarray(case["labels"], np.int32),
        )
    if "box" in case:
        kwargs["box"] = np.asarray(case["box"], np.float32)
    return pred.predict(**kwargs)


def _ours_predict(pred, case: dict, mask_input=None):
    r = pred.predict(
        points=case.get("points"),
        labels=case.get("labels"),
        box=case.get("box"),
        mask_input=mask_input,
        multimask=case["multimask"],
    )
    return r.masks, r.scores, r.low_res_logits


def compare(official, ours, photos: dict[str, np.ndarray], progress=None) -> dict:
    """Run both predictors on every photo x prompt case; return per-prompt-type minimum IoU,
    encoder cosine similarity, and per-photo detail."""
    import torch

    per_case = defaultdict(list)
    cosines, detail = [], []
    for name, image in photos.items():
        with torch.inference_mode():
            official.set_image(image)
        ours.set_image(image)
        ref_embed = official._features["image_embed"].float().numpy().ravel()
        our_embed = ours.features["image_embed"].ravel()
        cos = float(
            np.dot(ref_embed, our_embed)
            / (np.linalg.norm(ref_embed) * np.linalg.norm(our_embed) + 1e-12)
        )
        cosines.append(cos)
        h, w = image.shape[:2]
        for case_name, case in prompt_cases(h, w).items():
            ref_in = our_in = None
            if case.get("refine"):
                # Refine from each side's own previous best mask, as a user's second click would.
                ref_m, ref_s, ref_lr = _official_predict(official, prompt_cases(h, w)["point"])
                our_m, our_s, our_lr = _ours_predict(ours, prompt_cases(h, w)["point"])
                ref_in = ref_lr[np.argmax(ref_s)][None]
                our_in = our_lr[np.argmax(our_s)][None]
            with torch.inference_mode():
                ref_masks, _, _ = _official_predict(official, case, ref_in)
            our_masks, _, _ = _ours_predict(ours, case, our_in)
            iou = min(mask_iou(r, o) for r, o in zip(ref_masks, our_masks, strict=True))
            row = {"photo": name, "prompt": case_name, "iou": round(iou, 5)}
            if iou < 0.99 and not case["multimask"]:
                # The single-mask path picks between candidates by a stability score compared
                # with a threshold; when the two sides pick differently, record how well the
                # candidates themselves agree, so a tie broken the other way is told apart from
                # a numerical failure.
                multi = dict(case, multimask=True)
                with torch.inference_mode():
                    ref_multi, _, _ = _official_predict(official, multi, ref_in)
                our_multi, _, _ = _ours_predict(ours, multi, our_in)
                row["candidates_iou"] = round(
                    min(mask_iou(r, o) for r, o in zip(ref_multi, our_multi, strict=True)), 5
                )
            per_case[case_name].append(iou)
            detail.append(row)
        if progress:
            progress()
    flips = [d for d in detail if d.get("candidates_iou", 0) >= 0.99 > d["iou"]]
    return {
        "stability_flips": len(flips),
        "encoder_cosine_min": round(min(cosines), 6),
        "mask_iou_min": {k: round(min(v), 5) for k, v in per_case.items()},
        "mask_iou_mean": {k: round(float(np.mean(v)), 5) for k, v in per_case.items()},
        "photos": list(photos),
        "detail": detail,
    }
