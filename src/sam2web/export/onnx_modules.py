"""The two traced graphs: image encoder and prompt decoder, wired exactly as the official
`SAM2ImagePredictor.set_image` / `_predict` wire the official modules."""

from __future__ import annotations

import contextlib

import torch
from torch import nn

ENCODER_INPUTS = ["image"]
ENCODER_OUTPUTS = ["image_embed", "high_res_feats_0", "high_res_feats_1"]
DECODER_INPUTS = ENCODER_OUTPUTS + ["point_coords", "point_labels", "mask_input", "has_mask_input"]
DECODER_OUTPUTS = ["masks", "iou_predictions", "single_mask", "single_iou"]
FEATURE_SIZES = [(256, 256), (128, 128), (64, 64)]


class ImageEncoder(nn.Module):
    """image [1,3,1024,1024] -> image_embed [1,256,64,64] (+ no-memory embedding), high-res
    feats."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        decoder = model.sam_mask_decoder
        # Python ints, so the traced graph declares static output shapes.
        self.channels = [
            decoder.conv_s0.out_channels,
            decoder.conv_s1.out_channels,
            model.hidden_dim,
        ]

    def forward(self, image: torch.Tensor):
        backbone_out = self.model.forward_image(image)
        _, vision_feats, _, _ = self.model._prepare_backbone_features(backbone_out)
        if self.model.directly_add_no_mem_embed:
            vision_feats[-1] = vision_feats[-1] + self.model.no_mem_embed
        feats = [
            feat.permute(1, 2, 0).reshape(1, c, h, w)
            for feat, c, (h, w) in zip(vision_feats, self.channels, FEATURE_SIZES, strict=True)
        ]
        return feats[2], feats[0], feats[1]


def _stability_scores(decoder, mask_logits):
    """The official `_get_stability_scores` with the pixel counts summed as floats. torch sums
    booleans as int64, and onnxruntime's WebGPU EP has no int64 ReduceSum: those nodes ran on the
    CPU between GPU kernels, and they alone kept a static decoder from graph capture. Counts of at
    most 256*256 pixels are exact in fp32, so the scores are identical."""
    mask_logits = mask_logits.flatten(-2)
    delta = decoder.dynamic_multimask_stability_delta
    area_i = torch.sum((mask_logits > delta).float(), dim=-1)
    area_u = torch.sum((mask_logits > -delta).float(), dim=-1)
    return torch.where(area_u > 0, area_i / area_u, 1.0)


@contextlib.contextmanager
def _float_stability_counts(decoder):
    decoder._get_stability_scores = lambda logits: _stability_scores(decoder, logits)
    try:
        yield
    finally:
        del decoder._get_stability_scores  # back to the class's own method


def decode_prompts(module, features, prompts, repeat_image: bool):
    """The prompt encoder (official padding point appended) and the mask decoder of `module`
    (one with prompt_encoder, mask_decoder and dense_pe) on image `features` (embedding, high-res
    0, high-res 1) -> masks, iou, mask tokens, object score logits, and the single-mask output
    with the official stability-based fallback to the best multimask output."""
    point_coords, point_labels, mask_input, has_mask_input = prompts
    image_embed, high_res_feats_0, high_res_feats_1 = features
    sparse = module.prompt_encoder._embed_points(point_coords, point_labels, pad=True)
    no_mask = module.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
    has_mask = has_mask_input.reshape(-1, 1, 1, 1)
    dense = has_mask * module.prompt_encoder._embed_masks(mask_input) + (1 - has_mask) * no_mask
    decoder = module.mask_decoder
    masks, iou, tokens, object_score_logits = decoder.predict_masks(
        image_embeddings=image_embed,
        image_pe=module.dense_pe,
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        repeat_image=repeat_image,
        high_res_features=[high_res_feats_0, high_res_feats_1],
    )
    if decoder.dynamic_multimask_via_stability:
        with _float_stability_counts(decoder):
            single_mask, single_iou = decoder._dynamic_multimask_via_stability(masks, iou)
    else:
        single_mask, single_iou = masks[:, 0:1], iou[:, 0:1]
    return masks, iou, tokens, object_score_logits, single_mask, single_iou


class PromptDecoder(nn.Module):
    """Prompt encoder + mask decoder.

    Points are in 1024x1024 input space; the official padding point (label -1) is appended here,
    as `SAM2ImagePredictor` does. Outputs both the multimask path (3 masks) and the single-mask
    path, including the official stability-based fallback to the best multimask output.
    """

    def __init__(self, model):
        super().__init__()
        self.prompt_encoder = model.sam_prompt_encoder
        self.mask_decoder = model.sam_mask_decoder
        self.register_buffer("dense_pe", self.prompt_encoder.get_dense_pe(), persistent=False)

    def forward(
        self,
        image_embed: torch.Tensor,
        high_res_feats_0: torch.Tensor,
        high_res_feats_1: torch.Tensor,
        point_coords: torch.Tensor,
        point_labels: torch.Tensor,
        mask_input: torch.Tensor,
        has_mask_input: torch.Tensor,
    ):
        masks, iou, _, _, single_mask, single_iou = decode_prompts(
            self,
            (image_embed, high_res_feats_0, high_res_feats_1),
            (point_coords, point_labels, mask_input, has_mask_input),
            repeat_image=True,
        )
        return masks[:, 1:], iou[:, 1:], single_mask, single_iou
