"""Export the video graphs (capability `video`) into a bundle beside the image graphs.

Roles: `memory_attention`, `memory_encoder`, `video_decoder` (ONNX) and `video_constants`
(JSON: the few learnt vectors the tracker applies itself, plus the model's tracking settings).
The image `encoder` is shared with the image capability (see video_modules.py).

Memory attention takes a dynamic number of spatial memories (Nm) and object pointers (Np): the
official bank holds 1..(conditioning frames + 6) memories and 0..(conditioning frames + 15)
pointers, so any fixed size needs a cap on clicked frames, and padding always pays the full cost
(606 GFLOP for tiny at 7+16, vs 186 at 1+1). Dynamic shapes are exact with no masking, run in
onnxruntime on every EP, and on WebGPU cost one shader compile per new shape; what they rule out
is graph capture, which pays least on a kernel this compute-bound.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sam2web.export.video_modules import (
    MEMORY_ATTENTION_INPUTS,
    MEMORY_ATTENTION_OUTPUTS,
    MEMORY_ENCODER_INPUTS,
    MEMORY_ENCODER_OUTPUTS,
    VIDEO_DECODER_INPUTS,
    VIDEO_DECODER_OUTPUTS,
    MemoryAttentionGraph,
    MemoryEncoderGraph,
    VideoDecoder,
)

VIDEO_GRAPH_ROLES = ("memory_attention", "memory_encoder", "video_decoder")
CONSTANTS_ROLE = "video_constants"
VIDEO_ROLES = (*VIDEO_GRAPH_ROLES, CONSTANTS_ROLE)
CONSTANTS_FILE = "video_constants.json"

_MEMORY_ATTENTION_AXES = {
    "maskmem_features": {0: "num_memories"},
    "maskmem_tpos_index": {0: "num_memories"},
    "obj_ptrs": {0: "num_pointers"},
    "obj_ptr_tpos": {0: "num_pointers"},
}
_VIDEO_DECODER_AXES = {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}
_VIDEO_DECODER_OUTPUT_SHAPES = {
    "masks": [1, 3, 256, 256],
    "iou_predictions": [1, 3],
    "single_mask": [1, 1, 256, 256],
    "single_iou": [1, 1],
    "object_score_logits": [1, 1],
    "obj_ptr": [1, 4, None],  # hidden_dim, filled in
}


def tracking_config(model) -> dict:
    """The official tracker's settings a VideoPredictor needs (all from the built model)."""
    return {
        "num_maskmem": int(model.num_maskmem),
        "max_obj_ptrs_in_encoder": int(model.max_obj_ptrs_in_encoder),
        "max_cond_frames_in_attn": int(model.max_cond_frames_in_attn),
        "memory_temporal_stride_for_eval": int(model.memory_temporal_stride_for_eval),
        "hidden_dim": int(model.hidden_dim),
        "mem_dim": int(model.mem_dim),
        "image_size": int(model.image_size),
        "backbone_stride": int(model.backbone_stride),
        "use_obj_ptrs_in_encoder": bool(model.use_obj_ptrs_in_encoder),
        "add_tpos_enc_to_obj_ptrs": bool(model.add_tpos_enc_to_obj_ptrs),
        "proj_tpos_enc_in_obj_ptrs": bool(model.proj_tpos_enc_in_obj_ptrs),
        "use_signed_tpos_enc_to_obj_ptrs": bool(model.use_signed_tpos_enc_to_obj_ptrs),
        "only_obj_ptrs_in_the_past_for_eval": bool(model.only_obj_ptrs_in_the_past_for_eval),
        "pred_obj_scores": bool(model.pred_obj_scores),
        "fixed_no_obj_ptr": bool(model.fixed_no_obj_ptr),
        "soft_no_obj_ptr": bool(model.soft_no_obj_ptr),
        "multimask_output_in_sam": bool(model.multimask_output_in_sam),
        "multimask_output_for_tracking": bool(model.multimask_output_for_tracking),
        "use_multimask_token_for_obj_ptr": bool(model.use_multimask_token_for_obj_ptr),
        "multimask_min_pt_num": int(model.multimask_min_pt_num),
        "multimask_max_pt_num": int(model.multimask_max_pt_num),
        "use_mask_input_as_output_without_sam": bool(model.use_mask_input_as_output_without_sam),
        "directly_add_no_mem_embed": bool(model.directly_add_no_mem_embed),
        # Official `build_sam2_video_predictor` sets it (build_sam.py): clicked frames' masks
        # go into memory binarized; sam2web's exporter builds with the same overrides.
        "binarize_mask_from_pts_for_mem_enc": True,
    }


def _floats(t) -> list[float]:
    """float32 values as JSON numbers that read back to the same float32."""
    return [float(x) for x in t.detach().float().reshape(-1).tolist()]


def video_constants(model) -> dict:
    """The learnt vectors the tracker uses outside the graphs (official `_forward_sam_heads` and
    `_use_mask_as_output`), as JSON."""
    if not model.directly_add_no_mem_embed:
        raise NotImplementedError("video export needs directly_add_no_mem_embed (every SAM2 model)")
    conv = model.mask_downsample if model.use_obj_ptrs_in_encoder else None
    data = {
        "format": "sam2web-video-constants",
        "config": tracking_config(model),
        "no_mem_embed": _floats(model.no_mem_embed),
        "no_obj_ptr": _floats(model.no_obj_ptr) if model.pred_obj_scores else None,
    }
    if conv is not None:
        data["mask_downsample"] = {
            "kernel": list(conv.kernel_size),
            "weight": _floats(conv.weight),
            "bias": _floats(conv.bias),
        }
    return data


def export_video_fp32(model, out_dir: Path, export) -> dict[str, Path]:
    """Write memory_attention.onnx, memory_encoder.onnx, video_decoder.onnx and
    video_constants.json (fp32) into out_dir. `export` is onnx_export's `_export` (same opset,
    exporter and attention fusion as the image graphs)."""
    import torch

    from sam2web.export.onnx_export import _declare_output_shapes, _simplify

    out_dir.mkdir(parents=True, exist_ok=True)
    size = model.image_size // model.backbone_stride
    c = model.hidden_dim
    embed = torch.randn(1, c, size, size)
    hr0 = torch.randn(1, model.sam_mask_decoder.conv_s0.out_channels, size * 4, size * 4)
    hr1 = torch.randn(1, model.sam_mask_decoder.conv_s1.out_channels, size * 2, size * 2)
    tpos_dim = c if model.proj_tpos_enc_in_obj_ptrs else model.mem_dim
    paths = {role: out_dir / f"{role}.onnx" for role in VIDEO_GRAPH_ROLES}
    export(
        MemoryAttentionGraph(model).eval(),
        (
            embed,
            torch.randn(2, model.mem_dim, size, size),
            torch.tensor([6, 5]),
            torch.randn(3, c),
            torch.randn(3, tpos_dim),
        ),
        paths["memory_attention"],
        MEMORY_ATTENTION_INPUTS,
        MEMORY_ATTENTION_OUTPUTS,
        _MEMORY_ATTENTION_AXES,
        fused=False,  # plain MatMul/Softmax: 4096 x (Nm*4096 + 4Np) scores, in query chunks
    )
    export(
        MemoryEncoderGraph(model).eval(),
        (embed, torch.randn(1, 1, size * 4, size * 4), torch.ones(1, 1), torch.ones(1)),
        paths["memory_encoder"],
        MEMORY_ENCODER_INPUTS,
        MEMORY_ENCODER_OUTPUTS,
        fused=False,
    )
    export(
        VideoDecoder(model).eval(),
        (
            embed,
            hr0,
            hr1,
            torch.tensor([[[512.0, 512.0], [100.0, 200.0]]]),
            torch.tensor([[1.0, 0.0]]),
            torch.zeros(1, 1, size * 4, size * 4),
            torch.zeros(1),
        ),
        paths["video_decoder"],
        VIDEO_DECODER_INPUTS,
        VIDEO_DECODER_OUTPUTS,
        _VIDEO_DECODER_AXES,
    )
    for path in paths.values():
        _simplify(path)
    shapes = dict(_VIDEO_DECODER_OUTPUT_SHAPES, obj_ptr=[1, 4, c])
    _declare_output_shapes(paths["video_decoder"], shapes)
    paths[CONSTANTS_ROLE] = out_dir / CONSTANTS_FILE
    paths[CONSTANTS_ROLE].write_text(json.dumps(video_constants(model)) + "\n")
    return paths


def convert_video(src_dir: Path, dst_dir: Path, precision: str) -> None:
    """fp16 / int8 copies of the video graphs (the image graphs' own machinery); the constants
    stay fp32 (the tracker applies them in fp32 whatever the graphs' precision)."""
    from sam2web.export.onnx_export import convert_file

    dst_dir.mkdir(parents=True, exist_ok=True)
    for role in VIDEO_GRAPH_ROLES:
        convert_file(src_dir / f"{role}.onnx", dst_dir / f"{role}.onnx", precision)
    shutil.copyfile(src_dir / CONSTANTS_FILE, dst_dir / CONSTANTS_FILE)


def video_file_entries(root: Path) -> dict[str, dict]:
    """Manifest entries of the video roles present in `root` (none for an image-only export)."""
    from sam2web.export.onnx_export import io_signature
    from sam2web.manifest import describe_file

    entries = {}
    for role in VIDEO_GRAPH_ROLES:
        if (root / f"{role}.onnx").is_file():
            entries[role] = describe_file(
                root, f"{role}.onnx", **io_signature(root / f"{role}.onnx")
            )
    if (root / CONSTANTS_FILE).is_file():
        entries[CONSTANTS_ROLE] = describe_file(root, CONSTANTS_FILE)
    return entries
