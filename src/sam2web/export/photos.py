"""Real photos for verification and tests: scikit-image's bundled images, several aspect ratios."""

from __future__ import annotations

import numpy as np


def real_photos() -> dict[str, np.ndarray]:
    """name -> RGB uint8 image: square, landscape, wide, portrait and greyscale photos."""
    from skimage import data

    rgb = lambda a: np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a  # noqa: E731
    return {
        "astronaut": data.astronaut(),  # 512x512
        "coffee": data.coffee(),  # 400x600
        "chelsea": data.chelsea(),  # 300x451
        "rocket-portrait": np.ascontiguousarray(np.rot90(data.rocket())),  # 640x427
        "coins": rgb(data.coins()),  # 303x384, greyscale
        "hubble": data.hubble_deep_field(),  # 872x1000
    }
