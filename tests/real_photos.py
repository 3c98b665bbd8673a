"""Independent, model-free segmentations of real photos, to judge masks made with real weights."""

from __future__ import annotations

import numpy as np


def coin_regions(coins: np.ndarray, min_area: int = 300):
    """scikit-image's `coins`: each coin segmented classically (Sobel elevation map, watershed
    from dark/bright markers, holes filled: scikit-image's own region-based recipe). Returns
    [(bool mask, (x, y) click point deep inside the coin)], largest coins first."""
    from scipy import ndimage as ndi
    from skimage import filters, segmentation

    grey = coins[..., 0] if coins.ndim == 3 else coins
    markers = np.zeros(grey.shape, np.uint8)
    markers[grey < 30] = 1
    markers[grey > 150] = 2
    foreground = ndi.binary_fill_holes(segmentation.watershed(filters.sobel(grey), markers) == 2)
    labels, count = ndi.label(foreground)
    found = []
    for i in range(1, count + 1):
        region = labels == i
        if region.sum() < min_area:
            continue
        depth = ndi.distance_transform_edt(region)
        y, x = np.unravel_index(int(depth.argmax()), depth.shape)
        found.append((region, (float(x) + 0.5, float(y) + 0.5)))
    return sorted(found, key=lambda item: -int(item[0].sum()))
