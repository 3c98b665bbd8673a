"""The arithmetic of automatic mask generation, in NumPy: point grids, crop boxes, stability
scores, mask boxes, non-maximum suppression, uncropping, run-length encoding, small-region
clean-up. The same math as the official `sam2/utils/amg.py` (itself from `segment_anything`) and
the torchvision box ops the official generators call; written here on NumPy arrays because
torch and torchvision are not sam2web's runtime dependencies. automatic.py strings them together.

Conventions of the official code kept here: boxes are XYXY with the last row and column *inside*
the mask (x1 = rightmost pixel index, not one past it), an empty mask has the box [0, 0, 0, 0];
uncompressed RLE is `{"size": [h, w], "counts": [...]}` over the column-major pixels, starting
with the background run.
"""

from __future__ import annotations

import math
from itertools import product

import numpy as np

from sam2web.masks import rle_counts, rle_string

# -- point grids and crops ----------------------------------------------------------------------


def build_point_grid(n_per_side: int) -> np.ndarray:
    """(n*n, 2) points (x, y) evenly spaced in [0, 1]^2, at the centres of an n x n tiling,
    row by row (x varies fastest)."""
    offset = 1 / (2 * n_per_side)
    side = np.linspace(offset, 1 - offset, n_per_side)
    xs = np.tile(side[None, :], (n_per_side, 1))
    ys = np.tile(side[:, None], (1, n_per_side))
    return np.stack([xs, ys], axis=-1).reshape(-1, 2)


def build_all_layer_point_grids(n_per_side: int, n_layers: int, scale_per_layer: int):
    """One grid per crop layer; layer i has int(n_per_side / scale_per_layer**i) points a side."""
    return [build_point_grid(int(n_per_side / (scale_per_layer**i))) for i in range(n_layers + 1)]


def generate_crop_boxes(
    im_size: tuple[int, int], n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """The whole image, then (2**(i+1))**2 overlapping crops for layer i (XYXY, pixels), and the
    layer of each box."""
    im_h, im_w = im_size
    short_side = min(im_h, im_w)
    boxes, layers = [[0, 0, im_w, im_h]], [0]

    def crop_len(orig_len: int, n_crops: int, overlap: int) -> int:
        return int(math.ceil((overlap * (n_crops - 1) + orig_len) / n_crops))

    for i_layer in range(n_layers):
        n_crops_per_side = 2 ** (i_layer + 1)
        overlap = int(overlap_ratio * short_side * (2 / n_crops_per_side))
        crop_w = crop_len(im_w, n_crops_per_side, overlap)
        crop_h = crop_len(im_h, n_crops_per_side, overlap)
        x0s = [int((crop_w - overlap) * i) for i in range(n_crops_per_side)]
        y0s = [int((crop_h - overlap) * i) for i in range(n_crops_per_side)]
        for x0, y0 in product(x0s, y0s):  # x-major order, as the official code
            boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
            layers.append(i_layer + 1)
    return boxes, layers


# -- per-mask measures ----------------------------------------------------------------------


def stability_score(logits: np.ndarray, mask_threshold: float, offset: float) -> np.ndarray:
    """IoU of the masks binarized at threshold + offset and threshold - offset ((..., H, W)
    logits -> (...)); the first always lies inside the second. An all-empty pair gives NaN, as
    officially (0 / 0), which no threshold keeps."""
    inner = np.count_nonzero(logits > (mask_threshold + offset), axis=(-2, -1))
    outer = np.count_nonzero(logits > (mask_threshold - offset), axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (inner / outer).astype(np.float32)


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """XYXY boxes (inclusive last pixel) of boolean masks (N, H, W) -> (N, 4) int64; [0, 0, 0, 0]
    for an empty mask."""
    n, h, w = masks.shape
    if n == 0:
        return np.zeros((0, 4), np.int64)
    rows = masks.any(axis=2)  # (N, H)
    cols = masks.any(axis=1)  # (N, W)
    top = rows.argmax(axis=1)
    bottom = h - 1 - rows[:, ::-1].argmax(axis=1)
    left = cols.argmax(axis=1)
    right = w - 1 - cols[:, ::-1].argmax(axis=1)
    boxes = np.stack([left, top, right, bottom], axis=1).astype(np.int64)
    boxes[~rows.any(axis=1)] = 0
    return boxes


def box_area(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression, torchvision's `nms` semantics: boxes (N, 4) XYXY, taken in
    descending score (ties: earlier first, a stable sort); a box is dropped when its IoU with an
    already kept box is above `iou_threshold` (strictly). IoU in float32 as torchvision computes
    it, inter / (area_a + area_b - inter); degenerate boxes (zero area) suppress nothing.
    -> indices of the kept boxes, highest score first.

    (ONNX Runtime's NonMaxSuppression op would be the packaged one; its order among equal scores
    is a heap's, and equal scores are the rule in the cross-crop step, where every mask of a crop
    scores 1 / crop area.)"""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    areas = (x1 - x0) * (y1 - y0)
    threshold = np.float32(iou_threshold)
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for rank, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[rank + 1 :]
        rest = rest[~suppressed[rest]]
        if len(rest) == 0:
            break
        w = np.maximum(np.float32(0), np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(np.float32(0), np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (areas[i] + areas[rest] - inter)
        suppressed[rest[iou > threshold]] = True  # NaN (0 / 0) compares False: kept
    return np.asarray(keep, np.int64)


def is_box_near_crop_edge(
    boxes: np.ndarray, crop_box: list[int], orig_box: list[int], atol: float = 20.0
) -> np.ndarray:
    """Boxes (in crop coordinates) within `atol` px of a crop edge that is not an image edge."""
    boxes = uncrop_boxes(boxes, crop_box).astype(np.float32)
    crop = np.asarray(crop_box, np.float32)[None]
    orig = np.asarray(orig_box, np.float32)[None]
    near_crop = np.abs(boxes - crop) <= atol
    near_image = np.abs(boxes - orig) <= atol
    return (near_crop & ~near_image).any(axis=1)


def uncrop_boxes(boxes: np.ndarray, crop_box: list[int]) -> np.ndarray:
    x0, y0 = crop_box[:2]
    return np.asarray(boxes) + np.array([x0, y0, x0, y0], dtype=np.asarray(boxes).dtype)


def uncrop_points(points: np.ndarray, crop_box: list[int]) -> np.ndarray:
    return np.asarray(points) + np.array(crop_box[:2], dtype=np.asarray(points).dtype)


def uncrop_mask(mask: np.ndarray, crop_box: list[int], orig_h: int, orig_w: int) -> np.ndarray:
    """A crop's (h, w) mask placed in the full (orig_h, orig_w) image, zeros elsewhere."""
    x0, y0, x1, y1 = crop_box
    if (x0, y0, x1, y1) == (0, 0, orig_w, orig_h):
        return mask
    full = np.zeros((orig_h, orig_w), bool)
    full[y0:y1, x0:x1] = mask
    return full


def box_xyxy_to_xywh(box) -> list:
    x0, y0, x1, y1 = box
    return [x0, y0, x1 - x0, y1 - y0]


# -- run-length encoding ------------------------------------------------------------------------


def mask_to_rle(mask: np.ndarray) -> dict:
    """Uncompressed RLE of an (H, W) mask (pycocotools' layout: column-major runs, starting with
    the background)."""
    h, w = mask.shape
    return {"size": [int(h), int(w)], "counts": rle_counts(mask)}


def rle_to_mask(rle: dict) -> np.ndarray:
    h, w = rle["size"]
    counts = np.asarray(rle["counts"], np.int64)
    values = np.arange(len(counts)) % 2 == 1  # runs alternate background, foreground, ...
    flat = np.repeat(values, counts)
    return flat.reshape(w, h).T


def area_from_rle(rle: dict) -> int:
    return int(sum(rle["counts"][1::2]))


def coco_encode_rle(rle: dict) -> dict:
    """Uncompressed -> COCO's compact RLE string, what pycocotools.mask.frPyObjects gives."""
    return {"size": list(rle["size"]), "counts": rle_string(rle["counts"])}


# -- small regions --------------------------------------------------------------------------------


def _label_8(binary: np.ndarray):
    """Connected components, 8-connectivity (what OpenCV's connectedComponentsWithStats(8) and
    SAM2's CUDA kernel compute); -> labels (0 = outside), component count."""
    from scipy import ndimage

    return ndimage.label(binary, structure=np.ones((3, 3), bool))


def remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str):
    """segment_anything's clean-up of one full-resolution mask: mode "holes" fills background
    regions under `area_thresh` pixels (the background touching nothing in particular: any
    component of ~mask that small), "islands" drops foreground regions that small (keeping the
    largest when all are). -> (mask, changed)."""
    if mode not in ("holes", "islands"):
        raise ValueError(mode)
    correct_holes = mode == "holes"
    working = correct_holes ^ mask
    labels, n = _label_8(working)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    small = [i + 1 for i, s in enumerate(sizes) if s < area_thresh]
    if not small:
        return mask, False
    fill = [0, *small]
    if not correct_holes:
        fill = [i for i in range(n + 1) if i not in fill]
        if not fill:  # every region is small: keep the largest
            fill = [int(np.argmax(sizes)) + 1]
    return np.isin(labels, fill), True


def fill_holes_and_sprinkles(
    logits: np.ndarray, mask_threshold: float, max_area: int
) -> np.ndarray:
    """SAM2ImagePredictor's clean-up of low-res mask logits (utils/transforms.py
    `postprocess_masks` with max_hole_area = max_sprinkle_area = max_area, which the official
    generator sets to min_mask_region_area): background components (8-connected) of at most
    `max_area` pixels become foreground (logit threshold + 10) and foreground components that
    small become background (threshold - 10), both found on the masks as given.
    logits (..., h, w) -> same shape."""
    out = np.array(logits, np.float32, copy=True)
    flat_in = np.asarray(logits).reshape(-1, *logits.shape[-2:])
    flat_out = out.reshape(-1, *logits.shape[-2:])
    for k, m in enumerate(flat_in):
        for region, value in ((m <= mask_threshold, 10.0), (m > mask_threshold, -10.0)):
            labels, n = _label_8(region)
            if n == 0:
                continue
            sizes = np.bincount(labels.ravel(), minlength=n + 1)
            small = (labels > 0) & (sizes[labels] <= max_area)
            flat_out[k][small] = mask_threshold + value
    return out
