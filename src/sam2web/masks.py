"""Writing masks: binary PNG and transparent cutout (each written atomically), COCO RLE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sam2web.atomic import save_png_atomic


def save_mask_png(mask: np.ndarray, path: Path) -> None:
    """Binary mask as a greyscale PNG: 255 inside, 0 outside, at the image's resolution."""
    save_png_atomic(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L"), path)


def save_cutout_png(image: np.ndarray, mask: np.ndarray, path: Path) -> None:
    """The object on a transparent background (RGBA, alpha = mask)."""
    rgba = np.dstack([image, np.where(mask, 255, 0).astype(np.uint8)])
    save_png_atomic(Image.fromarray(rgba, mode="RGBA"), path)


def bbox(mask: np.ndarray) -> list[int] | None:
    """[x0, y0, x1, y1] (inclusive-exclusive) of the mask's pixels, None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def rle_counts(mask: np.ndarray) -> list[int]:
    """COCO run-length counts of a binary (H, W) mask: column-major runs, starting with the
    background (a leading 0 when the first pixel is set), as pycocotools' `encode` computes."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(edges).tolist()
    return [0, *counts] if flat[0] else counts


def rle_string(counts: list[int]) -> str:
    """pycocotools' compact string form of RLE counts (its rleToString): each count (after the
    third, less the count two before it) in 5-bit groups, low first, 0x20 = more follow, + 48."""
    x = np.asarray(counts, dtype=np.int64).copy()
    if len(x) > 3:
        x[3:] -= np.asarray(counts[1:-2], dtype=np.int64)
    rows = []  # one column of characters per 5-bit group, vectorised over all counts
    active = np.ones(len(x), dtype=bool)
    while active.any():
        c = x & 0x1F
        x >>= 5
        more = np.where(c & 0x10, x != -1, x != 0) & active
        rows.append(np.where(active, (c | np.where(more, 0x20, 0)) + 48, -1))
        active = more
    chars = np.stack(rows, axis=1).ravel()
    return chars[chars >= 0].astype(np.uint8).tobytes().decode("ascii")


def rle_string_counts(text: str | bytes) -> np.ndarray:
    """The RLE counts of pycocotools' compact string (its rleFrString; rle_string's inverse)."""
    v = np.frombuffer(text.encode("ascii") if isinstance(text, str) else text, np.uint8)
    v = v.astype(np.int64) - 48
    if v.size == 0:
        return np.zeros(0, np.int64)
    last = (v & 0x20) == 0  # the last 5-bit group of each count
    group = np.concatenate([[0], np.cumsum(last)[:-1]])
    starts = np.flatnonzero(np.concatenate([[True], last[:-1]]))
    shift = 5 * (np.arange(v.size) - starts[group])
    x = np.zeros(int(last.sum()), np.int64)
    np.add.at(x, group, (v & 0x1F) << shift)
    negative = (v[last] & 0x10) != 0  # sign-extend from the last group's top bit
    x[negative] |= -1 << (shift[last][negative] + 5)
    # Counts after the third were stored less the count two before them.
    x[1::2] = np.cumsum(x[1::2])
    x[2::2] = np.cumsum(x[2::2])
    return x


def rle_encode(mask: np.ndarray) -> dict:
    """A binary (H, W) mask as COCO RLE: {"size": [H, W], "counts": "<compact string>"}, what
    pycocotools.mask.encode gives (decoded with pycocotools.mask.decode)."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"rle_encode needs one (H, W) mask, got shape {mask.shape}")
    size = [int(mask.shape[0]), int(mask.shape[1])]
    return {"size": size, "counts": rle_string(rle_counts(mask))}


def bbox_xywh(mask: np.ndarray) -> list[int] | None:
    """COCO's [x, y, width, height] of the mask's pixels, None if empty."""
    box = bbox(mask)
    return None if box is None else [box[0], box[1], box[2] - box[0], box[3] - box[1]]
