"""Prompts: checked, and laid out the way the official predictors lay them out.

Coordinates stay in the original image's pixels here; each family scales them to its model's
input space (families.py `prompt_feeds`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from sam2web.errors import BadPromptError
from sam2web.predict.families import LOW_RES


def check_xy(xy: np.ndarray, orig_hw: tuple[int, int], what: str) -> None:
    h, w = orig_hw
    if not np.isfinite(xy).all():
        raise BadPromptError(f"{what} coordinates contain NaN or infinite values")
    bad = (xy[..., 0] < 0) | (xy[..., 0] > w) | (xy[..., 1] < 0) | (xy[..., 1] > h)
    if bad.any():
        x, y = xy[bad][0]
        raise BadPromptError(
            f"{what} ({x:g}, {y:g}) lies outside the {w}x{h} image "
            f"(x must be in [0, {w}], y in [0, {h}])"
        )


def layout(points, labels, box, orig_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Official prompt layout: box corners (labels 2, 3) first, then the points.
    -> coordinates (B, N, 2) in pixels and labels (B, N), float32; B prompt sets (several
    boxes, or one set)."""
    coords, tags = [], []
    batch = 1
    if box is not None:
        boxes = np.asarray(box, np.float32).reshape(-1, 4)
        check_xy(boxes.reshape(-1, 2), orig_hw, "box corner")
        if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
            raise BadPromptError("a box must be given as x0,y0,x1,y1 with x0<=x1 and y0<=y1")
        batch = len(boxes)
        coords.append(boxes.reshape(batch, 2, 2))
        tags.append(np.tile(np.array([[2, 3]], np.float32), (batch, 1)))
    if points is not None:
        pts = np.asarray(points, np.float32)
        if pts.ndim == 1:
            pts = pts[None]
        if pts.shape[-1] != 2 or pts.ndim not in (2, 3) or pts.shape[-2] == 0:
            raise BadPromptError(f"points must be (N, 2) or (B, N, 2), got {pts.shape}")
        check_xy(pts, orig_hw, "point")
        lab = (
            np.ones(pts.shape[:-1], np.float32)
            if labels is None
            else np.asarray(labels, np.float32)
        )
        if lab.shape != pts.shape[:-1]:
            raise BadPromptError(f"{lab.size} labels given for {pts.shape[-2]} points")
        if not np.isin(lab, (0, 1)).all():
            raise BadPromptError("point labels must be 1 (positive) or 0 (negative)")
        if pts.ndim == 2:
            pts, lab = np.repeat(pts[None], batch, 0), np.repeat(lab[None], batch, 0)
        if pts.shape[0] != batch:
            raise BadPromptError(f"{pts.shape[0]} point sets given for {batch} boxes")
        coords.append(pts)
        tags.append(lab)
    elif labels is not None:
        raise BadPromptError("labels given without points")
    if not coords:
        raise BadPromptError("give at least one point or a box")
    return np.concatenate(coords, axis=1), np.concatenate(tags, axis=1)


def mask_inputs(mask_input, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """The refinement input: low-res logits (1, 256, 256) from an earlier prediction (or one per
    prompt set), or none. -> mask (M, 1, 256, 256) and has_mask (M,), M = 1 or `batch`."""
    if mask_input is None:
        return np.zeros((1, 1, LOW_RES, LOW_RES), np.float32), np.zeros(1, np.float32)
    mask = np.asarray(mask_input, np.float32)
    if mask.ndim < 2 or mask.shape[-2:] != (LOW_RES, LOW_RES):
        raise BadPromptError(f"mask_input must be (1, 256, 256) logits, got {mask.shape}")
    mask = mask.reshape(-1, 1, LOW_RES, LOW_RES)
    if mask.shape[0] not in (1, batch):
        raise BadPromptError(f"{mask.shape[0]} mask inputs for {batch} prompts")
    return mask, np.ones(mask.shape[0], np.float32)


def prompt_sets(coords, labels, mask, has_mask) -> Iterator[tuple[np.ndarray, ...]]:
    """One prompt set at a time: both families' decoders take a batch of one (several objects are
    decoded one after another). A single mask input is shared by every set."""
    for b in range(len(coords)):
        yield (
            coords[b : b + 1],
            labels[b : b + 1],
            mask[b : b + 1] if len(mask) > 1 else mask,
            has_mask[b : b + 1] if len(has_mask) > 1 else has_mask[:1],
        )
