"""Reading user images safely: type checks, a decompression-bomb guard, EXIF orientation."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sam2web.errors import BadImageError

# 100 megapixels: a 10000x10000 photo is fine, a 50000x50000 "bomb" is not.
DEFAULT_MAX_PIXELS = 100_000_000


def max_pixels() -> int:
    return int(os.environ.get("SAM2WEB_MAX_PIXELS", DEFAULT_MAX_PIXELS))


def _check_size(width: int, height: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise BadImageError(f"{name} has zero size ({width}x{height})")
    limit = max_pixels()
    if width * height > limit:
        raise BadImageError(
            f"{name} is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limit:,} (set SAM2WEB_MAX_PIXELS to raise it)"
        )


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file into an RGB uint8 array (H, W, 3), oriented as its EXIF says,
    the way browsers show it. GIFs and other animations give their first frame."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise BadImageError(f"image not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_size(img.width, img.height, name)  # from the header, before decoding
                img.load()
                img = ImageOps.exif_transpose(img)
                rgb = img.convert("RGB")
    except BadImageError:
        raise
    except UnidentifiedImageError:
        raise BadImageError(
            f"{name} is not an image this tool can read (png, jpeg, webp, gif, bmp, tiff, avif)"
        ) from None
    except Image.DecompressionBombError:
        raise BadImageError(f"{name} is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImageError(f"{name} is corrupt or truncated ({exc})") from None
    return np.asarray(rgb)


def as_rgb_array(image) -> np.ndarray:
    """Accept a path, a PIL image or an array (H,W), (H,W,3) or (H,W,4); return RGB uint8."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, Image.Image):
        _check_size(image.width, image.height, "image")
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise BadImageError(
            f"image array must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}"
        )
    _check_size(array.shape[1], array.shape[0], "image")
    array = array[:, :, :3]
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
            raise BadImageError("image array contains NaN or infinite values")
        if array.min() < 0 or array.max() > 255:
            raise BadImageError("image array values must lie in [0, 255]")
        array = array.astype(np.uint8)
    return np.ascontiguousarray(array)
