"""`Predictor`: encode an image once, decode prompts many times, on ONNX Runtime."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam2web.errors import BadBundleError, BadPromptError, Sam2WebError
from sam2web.images import as_rgb_array
from sam2web.manifest import Manifest, read_manifest
from sam2web.predict.families import FAMILIES, LOW_RES


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
    def __init__(self, manifest: Manifest, providers=None, verify: bool = True):
        import onnxruntime as ort

        family = FAMILIES.get(manifest.data["family"])
        if family is None:
            raise BadBundleError(
                f"bundle {manifest.bundle_id} is of family {manifest.data['family']!r}; this "
                f"sam2web runs {', '.join(FAMILIES)} bundles"
            )
        if verify:
            manifest.verify_files()
        self.manifest = manifest
        self.family = family(manifest)
        self.input_size = int(manifest.data["input_size"])
        self.mask_threshold = float(manifest.data.get("mask_threshold", 0.0))
        options = ort.SessionOptions()
        options.log_severity_level = 3  # ORT's shape-merge warnings are noise to a user
        providers = providers or ["CPUExecutionProvider"]
        try:
            self.encoder = ort.InferenceSession(str(manifest.path_of("encoder")), options,
                                                providers=providers)
            self.decoder = ort.InferenceSession(str(manifest.path_of("decoder")), options,
                                                providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph types
            raise BadBundleError(
                f"bundle {manifest.bundle_id}: ONNX Runtime cannot load it ({exc})"
            ) from None
        self.reset_image()

    @classmethod
    def from_bundle(cls, path: str | Path, providers=None, verify: bool = True) -> "Predictor":
        return cls(read_manifest(path), providers=providers, verify=verify)

    # -- image -------------------------------------------------------------------------------

    def reset_image(self) -> None:
        self.features: dict[str, np.ndarray] | None = None
        self.orig_hw: tuple[int, int] | None = None

    def set_image(self, image) -> None:
        """Encode an image: a path, a PIL image, or an RGB/grey/RGBA array."""
        rgb = as_rgb_array(image)
        self.reset_image()
        self.features = self.family.encode(self.encoder, rgb)
        self.orig_hw = rgb.shape[:2]

    def upsample(self, low_res_logits: np.ndarray) -> np.ndarray:
        """Low-res logits (..., 256, 256) -> logits at the image's resolution (..., H, W)."""
        return self.family.upsample(low_res_logits, self.orig_hw)

    # -- prompts -----------------------------------------------------------------------------

    def _check_xy(self, xy: np.ndarray, what: str) -> None:
        h, w = self.orig_hw
        if not np.isfinite(xy).all():
            raise BadPromptError(f"{what} coordinates contain NaN or infinite values")
        bad = (xy[..., 0] < 0) | (xy[..., 0] > w) | (xy[..., 1] < 0) | (xy[..., 1] > h)
        if bad.any():
            x, y = xy[bad][0]
            raise BadPromptError(
                f"{what} ({x:g}, {y:g}) lies outside the {w}x{h} image "
                f"(x must be in [0, {w}], y in [0, {h}])"
            )

    def _prompts(self, points, labels, box):
        """Official prompt layout: box corners (labels 2, 3) first, then the points."""
        coords, tags = [], []
        batch = 1
        if box is not None:
            boxes = np.asarray(box, np.float32).reshape(-1, 4)
            self._check_xy(boxes.reshape(-1, 2), "box corner")
            if (boxes[:, 2] < boxes[:, 0]).any() or (boxes[:, 3] < boxes[:, 1]).any():
                raise BadPromptError("a box must be given as x0,y0,x1,y1 with x0<=x1 and y0<=y1")
            batch = len(boxes)
            coords.append(boxes.reshape(batch, 2, 2))
            tags.append(np.tile(np.array([[2, 3]], np.float32), (batch, 1)))
        if points is not None:
            pts = np.asarray(points, np.float32)
            if pts.ndim == 1:
                pts = pts[None]
            if pts.shape[-1] != 2 or pts.ndim not in (2, 3) or pts.shape[-2] == 0:
                raise BadPromptError(f"points must be (N, 2) or (B, N, 2), got {pts.shape}")
            self._check_xy(pts, "point")
            lab = np.ones(pts.shape[:-1], np.float32) if labels is None else np.asarray(
                labels, np.float32)
            if lab.shape != pts.shape[:-1]:
                raise BadPromptError(f"{lab.size} labels given for {pts.shape[-2]} points")
            if not np.isin(lab, (0, 1)).all():
                raise BadPromptError("point labels must be 1 (positive) or 0 (negative)")
            if pts.ndim == 2:
                pts, lab = np.repeat(pts[None], batch, 0), np.repeat(lab[None], batch, 0)
            if pts.shape[0] != batch:
                raise BadPromptError(f"{pts.shape[0]} point sets given for {batch} boxes")
            coords.append(pts)
            tags.append(lab)
        elif labels is not None:
            raise BadPromptError("labels given without points")
        if not coords:
            raise BadPromptError("give at least one point or a box")
        coords = self.family.scale_coords(np.concatenate(coords, axis=1), self.orig_hw)
        return coords, np.concatenate(tags, axis=1)

    def predict(self, points=None, labels=None, box=None, mask_input=None,
                multimask: bool = True) -> Prediction:
        """Masks for prompts in original-image pixel coordinates.

        points: (N, 2) x,y; labels: (N,) 1 positive / 0 negative (default all positive);
        box: (4,) x0,y0,x1,y1 or (B, 4) for several objects at once; mask_input: low-res
        logits (1, 256, 256) from an earlier prediction, for refinement; multimask: three
        candidate masks (True) or one (False, with SAM2's stability-based fallback); SAM1-family
        bundles always give one.
        """
        if self.features is None:
            raise Sam2WebError("call set_image() before predict()")
        coords, tags = self._prompts(points, labels, box)
        if mask_input is None:
            mask = np.zeros((1, 1, LOW_RES, LOW_RES), np.float32)
            has_mask = np.zeros(1, np.float32)
        else:
            mask = np.asarray(mask_input, np.float32)
            if mask.ndim < 2 or mask.shape[-2:] != (LOW_RES, LOW_RES):
                raise BadPromptError(f"mask_input must be (1, 256, 256) logits, got {mask.shape}")
            mask = mask.reshape(-1, 1, LOW_RES, LOW_RES)
            if mask.shape[0] not in (1, len(coords)):
                raise BadPromptError(f"{mask.shape[0]} mask inputs for {len(coords)} prompts")
            has_mask = np.ones(mask.shape[0], np.float32)
        low_res, scores = self.family.decode(self.decoder, self.features, coords, tags, mask,
                                             has_mask, self.orig_hw, multimask)
        masks = self.upsample(low_res) > self.mask_threshold
        if self.family.logit_clamp is not None:
            low_res = np.clip(low_res, -self.family.logit_clamp, self.family.logit_clamp)
        if len(coords) == 1:  # like the official predictor: drop the batch axis for one prompt
            masks, scores, low_res = masks[0], scores[0], low_res[0]
        return Prediction(masks=masks, scores=scores, low_res_logits=low_res)
