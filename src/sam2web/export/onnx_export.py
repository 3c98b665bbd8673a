"""Trace the official modules to ONNX, simplify the graphs, and derive fp16 / int8 variants."""

from __future__ import annotations

import warnings
from pathlib import Path

from sam2web.export.onnx_modules import (
    DECODER_INPUTS,
    DECODER_OUTPUTS,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    ImageEncoder,
    PromptDecoder,
)

OPSET = 17
# fp16: fp16 weights and arithmetic (GPUs with shader-f16); fp16w: fp16 weights, fp32 arithmetic;
# int8: weight-only int8 on the large MatMuls, fp16 weights elsewhere, fp32 arithmetic
# (quantize.py).
PRECISIONS = ("fp32", "fp16", "fp16w", "int8")
# Only the number of points is dynamic. One prompt set per run (batch 1) lets the shape
# arithmetic fold to constants: with a dynamic batch, ~140 shape nodes stayed in the graph and
# onnxruntime's WebGPU EP ran them on the CPU, syncing with the GPU on every click (measured:
# 145 CPU nodes per click). Several objects are decoded one after another instead.
_DECODER_DYNAMIC_AXES = {
    "point_coords": {1: "num_points"},
    "point_labels": {1: "num_points"},
}


def _export(module, args, path: Path, inputs, outputs, dynamic_axes=None, fused=True) -> None:
    import torch

    from sam2web.export.fused_attention import fused_attention

    with torch.no_grad(), warnings.catch_warnings(), fused_attention(fused):
        warnings.simplefilter("ignore")  # tracer warnings about python control flow on shapes
        # The TorchScript exporter: proven on SAM2's graphs and light on memory for `large`.
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic_axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
            custom_opsets={"com.microsoft": 1} if fused else None,
        )


def _simplify(path: Path) -> None:
    """Fold constants and fuse what onnxslim can, so onnxruntime-web runs a lean graph."""
    import onnx
    import onnxslim

    model = onnxslim.slim(str(path))
    onnx.save(model, str(path))


# Shapes the traced decoder leaves symbolic (slices of the mask-token axis); declared so the
# manifest and the browser know them without running the graph.
_DECODER_OUTPUT_SHAPES = {
    "masks": [1, 3, 256, 256],
    "iou_predictions": [1, 3],
    "single_mask": [1, 1, 256, 256],
    "single_iou": [1, 1],
}


def _declare_output_shapes(path: Path, shapes: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    for output in model.graph.output:
        dims = output.type.tensor_type.shape.dim
        for dim, value in zip(dims, shapes[output.name], strict=True):
            if isinstance(value, int):
                dim.dim_value = value
            else:
                dim.dim_param = value
    onnx.save(model, str(path))


def export_fp32(model, out_dir: Path, fused_attention: bool = True) -> dict[str, Path]:
    """Export encoder.onnx and decoder.onnx (fp32) for a built SAM2 model into out_dir.

    fused_attention: attention as onnxruntime's fused MultiHeadAttention node (see
    fused_attention.py); False gives plain ONNX ops any runtime can run.
    """
    import torch

    out_dir.mkdir(parents=True, exist_ok=True)
    encoder, decoder = ImageEncoder(model).eval(), PromptDecoder(model).eval()
    image = torch.zeros(1, 3, 1024, 1024)
    with torch.no_grad():
        feats = encoder(image)
    prompts = (
        torch.tensor([[[512.0, 512.0], [100.0, 200.0]]]),
        torch.tensor([[1.0, 0.0]]),
        torch.zeros(1, 1, 256, 256),
        torch.zeros(1),
    )
    paths = {"encoder": out_dir / "encoder.onnx", "decoder": out_dir / "decoder.onnx"}
    _export(
        encoder, (image,), paths["encoder"], ENCODER_INPUTS, ENCODER_OUTPUTS, fused=fused_attention
    )
    _export(
        decoder,
        (*feats, *prompts),
        paths["decoder"],
        DECODER_INPUTS,
        DECODER_OUTPUTS,
        _DECODER_DYNAMIC_AXES,
        fused=fused_attention,
    )
    for path in paths.values():
        _simplify(path)
    _declare_output_shapes(paths["decoder"], _DECODER_OUTPUT_SHAPES)
    return paths


def to_fp16(src: Path, dst: Path) -> None:
    """Weights and compute in fp16; inputs and outputs stay fp32 so callers need not change."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(src))
    # Ops whose fp32 -> fp16 cast would overflow or lose the plot: range/shape arithmetic.
    converted = convert_float_to_float16(
        model, keep_io_types=True, op_block_list=["Range", "CumSum", "RandomNormalLike"]
    )
    onnx.save(converted, str(dst))


def to_int8(src: Path, dst: Path) -> None:
    """Weight-only int8 (MatMulNBits) on the large MatMuls, fp16 storage of the other weights;
    activations stay fp32. The recipe and why: quantize.py."""
    from sam2web.export.quantize import to_int8 as quantize_to_int8

    quantize_to_int8(src, dst)


def compact_names(model) -> None:
    """Short internal names (n12, v345) and no doc strings: a graph's names cost ~0.3 MB that a
    reduced-precision bundle, whose point is a smaller download, need not carry. Graph inputs and
    outputs keep their names; graphs with subgraphs only lose node names."""
    graph = model.graph
    for i, node in enumerate(graph.node):
        node.name = f"n{i}"
        node.doc_string = ""
    if any(a.type in (5, 10) for n in graph.node for a in n.attribute):  # GRAPH / GRAPHS
        return
    keep = {v.name for v in graph.input} | {v.name for v in graph.output} | {""}
    names: dict[str, str] = {}

    def short(name: str) -> str:
        if name in keep:
            return name
        return names.setdefault(name, f"v{len(names)}")

    for init in graph.initializer:
        init.name = short(init.name)
    for node in graph.node:
        node.input[:] = [short(x) for x in node.input]
        node.output[:] = [short(x) for x in node.output]
    for info in graph.value_info:
        info.name = short(info.name)
    model.doc_string = graph.doc_string = ""


def convert_file(src: Path, dst: Path, precision: str) -> None:
    import onnx

    if precision == "fp16":
        to_fp16(src, dst)
    elif precision == "fp16w":
        from sam2web.export.quantize import to_fp16_storage

        to_fp16_storage(src, dst)
    elif precision == "int8":
        to_int8(src, dst)
    else:
        raise ValueError(precision)
    model = onnx.load(str(dst))
    compact_names(model)
    onnx.save(model, str(dst))


def convert(src_dir: Path, dst_dir: Path, precision: str) -> None:
    dst_dir.mkdir(parents=True, exist_ok=True)
    for name in ("encoder.onnx", "decoder.onnx"):
        convert_file(src_dir / name, dst_dir / name, precision)


def io_signature(path: Path) -> dict:
    """Input/output names, shapes (symbolic dims as strings) and element types of a graph."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)

    def describe(values):
        return [
            {
                "name": v.name,
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name,
                "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            }
            for v in values
        ]

    init_names = {i.name for i in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in init_names]
    return {"inputs": describe(inputs), "outputs": describe(model.graph.output)}
