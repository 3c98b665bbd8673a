"""Pre- and post-processing of the official SAM2ImagePredictor, in NumPy and Pillow.

Official SAM2 squashes the whole image to 1024x1024 (torchvision Resize on a tensor: bilinear with
antialiasing), normalizes with ImageNet mean/std, scales prompt coordinates per axis, and upsamples
the 256x256 mask logits bilinearly (align_corners=False, no antialiasing) to the original size.
Pillow's float ("F") bilinear resize is the same filter as torch's antialiased bilinear (they agree
to 1 ulp), so the encoder sees the same input as in PyTorch.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


def preprocess(image: np.ndarray, size: int, mean, std) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (1, 3, size, size), resized and normalized."""
    x = image.astype(np.float32) / 255.0
    channels = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(x[:, :, c]), mode="F").resize(
                (size, size), Image.Resampling.BILINEAR
            )
        )
        for c in range(3)
    ]
    out = np.stack(channels)
    out -= np.asarray(mean, np.float32)[:, None, None]
    out /= np.asarray(std, np.float32)[:, None, None]
    return out[None]


def scale_coords(coords: np.ndarray, orig_hw: tuple[int, int], size: int) -> np.ndarray:
    """(x, y) pixel coordinates of the original image -> the model's size x size input space."""
    h, w = orig_hw
    out = np.asarray(coords, np.float32).copy()
    out[..., 0] *= size / w
    out[..., 1] *= size / h
    return out


def _bilinear_taps(n_out: int, n_in: int):
    """Source indices and weights of torch's bilinear interpolation, align_corners=False."""
    scale = n_in / n_out
    src = (np.arange(n_out, dtype=np.float32) + 0.5) * np.float32(scale) - 0.5
    src = np.maximum(src, 0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = (src - i0).astype(np.float32)
    return i0, i1, w1


def upsample_logits(logits: np.ndarray, orig_hw: tuple[int, int]) -> np.ndarray:
    """(..., h, w) logits -> (..., H, W), bilinear, align_corners=False (no antialiasing)."""
    h_out, w_out = orig_hw
    y0, y1, wy = _bilinear_taps(h_out, logits.shape[-2])
    x0, x1, wx = _bilinear_taps(w_out, logits.shape[-1])
    rows = logits[..., y0, :] * (1 - wy)[:, None] + logits[..., y1, :] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx
