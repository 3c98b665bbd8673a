"""`Predictor`: encode an image once, decode prompts many times, on ONNX Runtime.

The image state (features, orig_hw) lives here; the sessions in sessions.py, the prompt checks
and layout in prompts.py, and what differs per model family in families.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam2web.errors import BadBundleError, Sam2WebError
from sam2web.images import as_rgb_array
from sam2web.manifest import CAPABILITY_ROLES, Manifest, read_manifest
from sam2web.predict import prompts
from sam2web.predict.families import FAMILIES
from sam2web.predict.sessions import Sessions


@dataclass
class Prediction:
    """masks: bool (C, H, W) at the original resolution ((B, C, H, W) for several boxes);
    scores: predicted IoU per mask; low_res_logits: (C, 256, 256), the refinement input."""

    masks: np.ndarray
    scores: np.ndarray
    low_res_logits: np.ndarray

    def best(self) -> np.ndarray:
        """The mask with the highest predicted IoU (for a single prompt set)."""
        return self.masks[int(np.argmax(self.scores))]


class Predictor:
    def __init__(
        self, manifest: Manifest, providers=None, verify: bool = True, threads: int | None = None
    ):
        family = FAMILIES.get(manifest.family)
        if family is None:
            raise BadBundleError(
                f"bundle {manifest.id} is of family {manifest.family!r}; this "
                f"sam2web runs {', '.join(FAMILIES)} bundles"
            )
        manifest.require("image")
        if verify:
            manifest.verify_files()
        self.manifest = manifest
        self.family = family(manifest)
        self.input_size = manifest.input_size
        self.mask_threshold = manifest.mask_threshold
        self.sessions = Sessions(
            manifest, CAPABILITY_ROLES["image"], providers=providers, threads=threads
        )
        self.reset_image()

    @classmethod
    def from_bundle(
        cls, path: str | Path, providers=None, verify: bool = True, threads: int | None = None
    ) -> Predictor:
        return cls(read_manifest(path), providers=providers, verify=verify, threads=threads)

    # -- image -------------------------------------------------------------------------------

    def reset_image(self) -> None:
        self.features: dict[str, np.ndarray] | None = None
        self.orig_hw: tuple[int, int] | None = None

    def set_image(self, image) -> None:
        """Encode an image: a path, a PIL image, or an RGB/grey/RGBA array."""
        rgb = as_rgb_array(image)
        self.reset_image()
        outputs = self.sessions.run("encoder", self.family.encoder_feeds(rgb))
        self.features = self.family.features(outputs)
        self.orig_hw = rgb.shape[:2]

    def upsample(self, low_res_logits: np.ndarray) -> np.ndarray:
        """Low-res logits (..., 256, 256) -> logits at the image's resolution (..., H, W)."""
        return self.family.upsample(low_res_logits, self.orig_hw)

    # -- prompts -----------------------------------------------------------------------------

    def predict(
        self, points=None, labels=None, box=None, mask_input=None, multimask: bool = True
    ) -> Prediction:
        """Masks for prompts in original-image pixel coordinates.

        points: (N, 2) x,y; labels: (N,) 1 positive / 0 negative (default all positive);
        box: (4,) x0,y0,x1,y1 or (B, 4) for several objects at once; mask_input: low-res
        logits (1, 256, 256) from an earlier prediction, for refinement; multimask: three
        candidate masks (True) or one (False, with SAM2's stability-based fallback); SAM1-family
        bundles always give one.
        """
        if self.features is None:
            raise Sam2WebError("call set_image() before predict()")
        coords, labels = prompts.layout(points, labels, box, self.orig_hw)
        mask, has_mask = prompts.mask_inputs(mask_input, len(coords))
        wanted = self.family.outputs(multimask)
        lows, scores = [], []
        for c, lab, m, has in prompts.prompt_sets(coords, labels, mask, has_mask):
            feeds = {**self.features, **self.family.prompt_feeds(c, lab, m, has, self.orig_hw)}
            out = self.sessions.run("decoder", feeds, wanted)
            lows.append(out[wanted[0]])
            scores.append(out[wanted[1]])
        low_res, scores = np.concatenate(lows), np.concatenate(scores)
        masks = self.upsample(low_res) > self.mask_threshold
        if self.family.clamp is not None:
            low_res = np.clip(low_res, -self.family.clamp, self.family.clamp)
        if len(coords) == 1:  # like the official predictor: drop the batch axis for one prompt
            masks, scores, low_res = masks[0], scores[0], low_res[0]
        return Prediction(masks=masks, scores=scores, low_res_logits=low_res)


def best_mask(predictor: Predictor, points, labels, box) -> tuple[np.ndarray, float]:
    """One object's mask as `sam2web segment` gives it, on the image set in `predictor`: as the
    official predictor recommends, three candidates for one ambiguous click (no box), else one;
    -> (the candidate with the highest predicted IoU, its score)."""
    multimask = len(points or []) == 1 and box is None
    result = predictor.predict(
        points=points or None, labels=labels or None, box=box, multimask=multimask
    )
    best = int(np.argmax(result.scores))
    return result.masks[best], float(result.scores[best])
