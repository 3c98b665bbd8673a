"""Writing masks: binary PNG and transparent cutout, each written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image


def _save_atomic(image: Image.Image, path: Path) -> None:
    """Write to a temporary file beside `path`, then rename: no half-written outputs."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_mask_png(mask: np.ndarray, path: Path) -> None:
    """Binary mask as a greyscale PNG: 255 inside, 0 outside, at the image's resolution."""
    _save_atomic(Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L"), path)


def save_cutout_png(image: np.ndarray, mask: np.ndarray, path: Path) -> None:
    """The object on a transparent background (RGBA, alpha = mask)."""
    rgba = np.dstack([image, np.where(mask, 255, 0).astype(np.uint8)])
    _save_atomic(Image.fromarray(rgba, mode="RGBA"), path)


def bbox(mask: np.ndarray) -> list[int] | None:
    """[x0, y0, x1, y1] (inclusive-exclusive) of the mask's pixels, None if empty."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
