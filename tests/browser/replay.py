"""Replays the app's interactive loop with the Python predictor, as the parity reference.

The app decodes after every prompt change: one lone click asks for three candidates; anything
else asks for one mask, refined from the object's previous chosen mask; the best-scoring
candidate is shown.
"""

from __future__ import annotations

import numpy as np


def replay(predictor, steps: list[tuple], threshold: float = 0.0):
    """steps: ("point", x, y, label) or ("box", x0, y0, x1, y1), in the order the user made them.
    Returns (mask at the given threshold, low-res logits of the chosen mask, score)."""
    points, labels, box, previous = [], [], None, None
    chosen = None
    for step in steps:
        if step[0] == "point":
            points.append(step[1:3])
            labels.append(step[3])
        else:
            box = list(step[1:5])
        multimask = len(points) == 1 and box is None
        r = predictor.predict(
            points=points or None,
            labels=labels or None,
            box=box,
            mask_input=None if multimask or previous is None else previous[None],
            multimask=multimask,
        )
        best = int(np.argmax(r.scores))
        previous = r.low_res_logits[best]
        chosen = (r.low_res_logits[best], float(r.scores[best]))
    logits = predictor.upsample(chosen[0][None])[0]
    return logits > threshold, chosen[0], chosen[1]
