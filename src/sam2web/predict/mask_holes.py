"""Small holes in mask logits filled, as official SAM2's video predictor fills them.

Official `fill_holes_in_mask_scores` (sam2/utils/misc.py), applied by
`SAM2VideoPredictor._run_single_frame_inference` to every frame's low-res logits when
`fill_hole_area > 0` (`build_sam2_video_predictor` sets 8): the background (logits <= 0) is split
into 8-connected regions, and every region of at most `max_area` pixels gets the logit 0.1 (just
foreground). A region's place does not matter (one touching the border is filled too); only its
area does. Official labels the regions with a CUDA extension (`sam2._C`, absent from CPU installs,
where official skips the step with a warning); here SciPy labels them on the CPU.
"""

from __future__ import annotations

import numpy as np

HOLE_LOGIT = np.float32(0.1)
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def fill_holes_in_mask_scores(logits: np.ndarray, max_area: int) -> np.ndarray:
    """(..., H, W) float32 logits -> a copy in which every 8-connected background region
    (logits <= 0) of at most `max_area` pixels is set to 0.1. max_area must be positive."""
    from scipy import ndimage

    if max_area <= 0:
        raise ValueError(f"max_area must be positive, got {max_area}")
    out = np.array(logits, dtype=np.float32, copy=True)
    planes = out.reshape(-1, *out.shape[-2:])
    for plane in planes:
        labels, count = ndimage.label(plane <= 0, structure=_EIGHT_CONNECTED)
        if count == 0:
            continue
        areas = np.bincount(labels.ravel())
        small = areas <= max_area
        small[0] = False  # label 0 is the foreground
        plane[small[labels]] = HOLE_LOGIT
    return out
