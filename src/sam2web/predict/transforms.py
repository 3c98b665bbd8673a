"""Pre- and post-processing of the official predictors, in NumPy and Pillow.

SAM2 (SAM2ImagePredictor): squashes the whole image to 1024x1024 (torchvision Resize on a tensor:
bilinear with antialiasing), normalizes with ImageNet mean/std, scales prompt coordinates per axis,
and upsamples the 256x256 mask logits bilinearly (align_corners=False, no antialiasing) to the
original size.
Pillow's float ("F") bilinear resize is the same filter as torch's antialiased bilinear (they agree
to 1 ulp), so the encoder sees the same input as in PyTorch.

SAM1 (segment_anything's SamPredictor and its ONNX decoder): resizes the uint8 image with Pillow so
its longest side is 1024 (ResizeLongestSide), normalizes on the 0-255 scale, pads bottom/right with
zeros to 1024x1024; prompts scale per axis to the resized (unpadded) size; mask logits go up to
1024x1024, lose the padding, then go to the original size (bilinear, align_corners=False both
times). A side is never resized below 1 px (longest_side_shape).
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


def upsample_logits(
    logits: np.ndarray, orig_hw: tuple[int, int], keep_hw: tuple[int, int] | None = None
) -> np.ndarray:
    """(..., h, w) logits -> (..., H, W), bilinear, align_corners=False (no antialiasing).
    keep_hw: only the top-left (h', w') of that output (the same values, not computing the rest)."""
    h_out, w_out = orig_hw
    y0, y1, wy = _bilinear_taps(h_out, logits.shape[-2])
    x0, x1, wx = _bilinear_taps(w_out, logits.shape[-1])
    if keep_hw is not None:
        y0, y1, wy = y0[: keep_hw[0]], y1[: keep_hw[0]], wy[: keep_hw[0]]
        x0, x1, wx = x0[: keep_hw[1]], x1[: keep_hw[1]], wx[: keep_hw[1]]
    rows = logits[..., y0, :] * (1 - wy)[:, None] + logits[..., y1, :] * wy[:, None]
    return rows[..., x0] * (1 - wx) + rows[..., x1] * wx


def longest_side_shape(orig_hw: tuple[int, int], size: int) -> tuple[int, int]:
    """SAM1's ResizeLongestSide.get_preprocess_shape: (h, w) with the longest side = size.
    A side is never below 1 px: the official rounding gives 0 for a side under size/(2*longest)
    (a 20000x1 strip), which no resize can make. Same rule as imageOps.ts longestSideShape."""
    h, w = orig_hw
    scale = size * 1.0 / max(h, w)
    return max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))


def preprocess_longest_side(image: np.ndarray, size: int, mean, std) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (1, 3, size, size): resized on uint8 (like the official
    transform, via Pillow), normalized on the 0-255 scale, zero-padded bottom/right."""
    new_h, new_w = longest_side_shape(image.shape[:2], size)
    resized = np.asarray(
        Image.fromarray(np.ascontiguousarray(image)).resize(
            (new_w, new_h), Image.Resampling.BILINEAR
        ),
        np.float32,
    )
    resized = (resized - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    out = np.zeros((1, 3, size, size), np.float32)
    out[0, :, :new_h, :new_w] = resized.transpose(2, 0, 1)
    return out


def scale_coords_longest_side(
    coords: np.ndarray, orig_hw: tuple[int, int], size: int
) -> np.ndarray:
    """SAM1's ResizeLongestSide.apply_coords: per axis, to the resized (unpadded) image."""
    h, w = orig_hw
    new_h, new_w = longest_side_shape(orig_hw, size)
    out = np.asarray(coords, np.float32).copy()
    out[..., 0] *= new_w / w
    out[..., 1] *= new_h / h
    return out


def upsample_logits_longest_side(
    logits: np.ndarray, orig_hw: tuple[int, int], size: int
) -> np.ndarray:
    """SAM1's postprocess_masks: (..., 256, 256) -> (..., size, size), crop the padding away,
    -> (..., H, W); bilinear, align_corners=False."""
    new_h, new_w = longest_side_shape(orig_hw, size)
    resized = upsample_logits(logits, (size, size), keep_hw=(new_h, new_w))
    return upsample_logits(resized, orig_hw)
