"""The fixed-batch decoder (role `decoder_batch`, capability `everything`): one point prompt per
row, BATCH rows per run, for "segment everything" (sam2web.AutomaticMaskGenerator and the
browser's Everything action).

Why a second decoder graph rather than a batch axis on the click decoder: the click decoder is
batch 1 on purpose (onnx_export.py: with a dynamic batch ~140 shape nodes stayed in the graph and
ran on the CPU under WebGPU, and a dynamic shape rules out graph capture). A grid of 1024 points
wants many rows per run instead. This graph is the same official modules wired the same way
(onnx_modules.PromptDecoder), traced with every shape static: point_coords (BATCH, 1, 2),
point_labels (BATCH, 1), mask_input (BATCH, 1, 256, 256), has_mask_input (BATCH,). All shapes fold
to constants, so WebGPU can capture and replay it; a short last batch is padded by the caller.
The mask input is kept per row for the official one-step refinement (`use_m2m`).

The official generator decodes `points_per_batch` (default 64) prompts per forward; the grouping
changes nothing in the results, only memory: a row costs the decoder's (1, 32, 256, 256)
upscaled embedding and a copy of the image embedding, so BATCH = 16 keeps one run near 0.25 GB of
activations (what a browser tab can afford). Per point it costs the same as larger batches:
sam2.1-hiera-tiny's graph on ONNX Runtime CPU (2 cores) took 131, 130, 128 and 130 ms a point in
batches of 8, 16, 32 and 64.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from sam2web.export.onnx_modules import DECODER_INPUTS, DECODER_OUTPUTS, PromptDecoder

ROLE = "decoder_batch"
FILE = f"{ROLE}.onnx"
BATCH = 16


@contextlib.contextmanager
def _broadcast(constant):
    """The official `predict_masks` repeats the positional encoding once per row
    (`torch.repeat_interleave(image_pe, B)`); traced, that is a constant, and constant folding
    stores B copies of it in the graph (4 MB each). Here that one call returns the (1, C, H, W)
    encoding itself: the transformer adds it to (B, HW, C) keys by broadcasting, the same values
    without the copies. Every other repeat_interleave is the real one."""
    import torch

    original = torch.repeat_interleave

    def repeat_interleave(x, *args, **kwargs):
        return x if x is constant else original(x, *args, **kwargs)

    torch.repeat_interleave = repeat_interleave
    try:
        yield
    finally:
        torch.repeat_interleave = original


class BatchPromptDecoder(PromptDecoder):
    """PromptDecoder with the positional encoding broadcast over the rows (see _broadcast)."""

    def forward(self, *args):
        with _broadcast(self.dense_pe):
            return super().forward(*args)


def export_decoder_batch_fp32(model, out_dir: Path, export, batch: int = BATCH) -> Path:
    """Write decoder_batch.onnx (fp32) for a built SAM2 model into out_dir. `export` is
    onnx_export's `_export` (same opset, exporter and attention fusion as the image graphs)."""
    import torch

    from sam2web.export.onnx_export import _declare_output_shapes, _simplify

    out_dir.mkdir(parents=True, exist_ok=True)
    size = model.image_size // model.backbone_stride
    decoder = model.sam_mask_decoder
    feats = (
        torch.randn(1, model.hidden_dim, size, size),
        torch.randn(1, decoder.conv_s0.out_channels, size * 4, size * 4),
        torch.randn(1, decoder.conv_s1.out_channels, size * 2, size * 2),
    )
    prompts = (
        torch.rand(batch, 1, 2) * model.image_size,
        torch.ones(batch, 1),
        torch.zeros(batch, 1, size * 4, size * 4),
        torch.zeros(batch),
    )
    path = out_dir / FILE
    export(
        BatchPromptDecoder(model).eval(), (*feats, *prompts), path, DECODER_INPUTS, DECODER_OUTPUTS
    )
    _simplify(path)
    _share_equal_initializers(path)
    low = size * 4
    _declare_output_shapes(
        path,
        {
            "masks": [batch, 3, low, low],
            "iou_predictions": [batch, 3],
            "single_mask": [batch, 1, low, low],
            "single_iou": [batch, 1],
        },
    )
    return path


def _share_equal_initializers(path: Path) -> None:
    """Constant folding leaves one copy of the broadcast positional encoding per transformer layer
    (3 x 4 MB of equal bytes); nodes that read equal constants are pointed at one of them."""
    import hashlib

    import onnx

    model = onnx.load(str(path))
    graph = model.graph
    first: dict[tuple, str] = {}
    alias: dict[str, str] = {}
    kept = []
    for init in graph.initializer:
        key = (init.data_type, tuple(init.dims), hashlib.sha256(init.raw_data).digest())
        if init.raw_data and key in first:
            alias[init.name] = first[key]
        else:
            first.setdefault(key, init.name)
            kept.append(init)
    if not alias:
        return
    del graph.initializer[:]
    graph.initializer.extend(kept)
    for node in graph.node:
        node.input[:] = [alias.get(name, name) for name in node.input]
    onnx.save(model, str(path))


def convert_decoder_batch(src_dir: Path, dst_dir: Path, precision: str) -> None:
    """fp16 / int8 copy of the graph (the image graphs' own conversion)."""
    from sam2web.export.onnx_export import convert_file

    if (src_dir / FILE).is_file():
        dst_dir.mkdir(parents=True, exist_ok=True)
        convert_file(src_dir / FILE, dst_dir / FILE, precision)


def everything_file_entries(root: Path) -> dict[str, dict]:
    """The manifest entry of decoder_batch.onnx when `root` has it (none otherwise)."""
    from sam2web.export.onnx_export import io_signature
    from sam2web.manifest import describe_file

    if not (root / FILE).is_file():
        return {}
    return {ROLE: describe_file(root, FILE, **io_signature(root / FILE))}
