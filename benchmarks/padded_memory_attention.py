"""Memory attention at a fixed size, padded and masked: the alternative to dynamic shapes that
issue 13 §1 asks to measure (benchmarks/video_tracking.py times both). Not shipped in bundles.

The shipped graph (sam2web.export.video_modules.MemoryAttentionGraph) takes any number of
spatial memories (Nm) and object pointers (Np). This variant always takes MAX_MEMORIES memories
and MAX_POINTERS pointers, with a 0/1 flag per slot, and every input is float32 (the memories'
temporal indices come one-hot, so all inputs can live in WebGPU buffers for graph capture). The
keys of empty slots get -1e30 added to their scores, so their softmax weight is exactly 0 in
float32 and every real key keeps the weight it has in the dynamic graph (every frame attends to
at least one real memory: its conditioning frame). Static shapes allow WebGPU graph capture; the
price is the full-memory cost (Nm = 7, Np = 16 for every model: ~606 GFLOP) on every frame, where
the dynamic graph ramps up over the first 16 frames, plus the masking's pass over the scores. A
user clicking more than one frame needs more slots (or a cap).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sam2web.export.video_modules import MEMORY_ATTENTION_OUTPUTS, MemoryAttentionGraph

MAX_MEMORIES = 7  # num_maskmem: one conditioning frame + 6 previous frames
MAX_POINTERS = 16  # max_obj_ptrs_in_encoder
PADDED_INPUTS = [
    "image_embed",
    "maskmem_features",
    "maskmem_tpos_onehot",
    "memory_valid",
    "obj_ptrs",
    "obj_ptr_tpos",
    "pointer_valid",
]
MASKED_SCORE = -1e30


class PaddedMemoryAttentionGraph(MemoryAttentionGraph):
    """MemoryAttentionGraph's inputs at fixed sizes [MAX_MEMORIES, ...] / [MAX_POINTERS, ...]
    (the temporal indices one-hot: maskmem_tpos_onehot [MAX_MEMORIES, num_maskmem]), plus
    memory_valid [MAX_MEMORIES] and pointer_valid [MAX_POINTERS] (1.0 real, 0.0 empty)."""

    def forward(
        self,
        image_embed,
        maskmem_features,
        maskmem_tpos_onehot,
        memory_valid,
        obj_ptrs,
        obj_ptr_tpos,
        pointer_valid,
    ):
        table = self.model.maskmem_tpos_enc.reshape(-1, self.mem_dim)
        tpos = torch.matmul(maskmem_tpos_onehot, table)
        memory, memory_pos = self.memory_tokens(maskmem_features, tpos, obj_ptrs, obj_ptr_tpos)
        hw = self.size * self.size
        split = self.hidden_dim // self.mem_dim
        valid = torch.cat(
            [
                memory_valid[:, None].expand(-1, hw).reshape(-1),
                pointer_valid[:, None].expand(-1, split).reshape(-1),
            ]
        )
        key_bias = (1.0 - valid) * MASKED_SCORE
        return self.attend(image_embed, memory, memory_pos, maskmem_features.shape[0], key_bias)


def export_padded(model, path: Path) -> Path:
    """The padded variant of `model`'s memory attention (fp32, static shapes) -> path."""
    from sam2web.export.onnx_export import _export, _simplify

    size = model.image_size // model.backbone_stride
    c = model.hidden_dim
    tpos_dim = c if model.proj_tpos_enc_in_obj_ptrs else model.mem_dim
    path.parent.mkdir(parents=True, exist_ok=True)
    _export(
        PaddedMemoryAttentionGraph(model).eval(),
        (
            torch.randn(1, c, size, size),
            torch.randn(MAX_MEMORIES, model.mem_dim, size, size),
            torch.eye(model.num_maskmem)[torch.arange(MAX_MEMORIES) % model.num_maskmem],
            torch.ones(MAX_MEMORIES),
            torch.randn(MAX_POINTERS, c),
            torch.randn(MAX_POINTERS, tpos_dim),
            torch.ones(MAX_POINTERS),
        ),
        path,
        PADDED_INPUTS,
        MEMORY_ATTENTION_OUTPUTS,
        None,
        fused=False,
    )
    _simplify(path)
    return path


def pad_feeds(
    feeds: dict[str, np.ndarray], num_maskmem: int = MAX_MEMORIES
) -> dict[str, np.ndarray]:
    """The dynamic graph's feeds (Nm memories, Np pointers) as the padded graph's: zeros in the
    empty slots, flagged 0. More than MAX_MEMORIES / MAX_POINTERS is refused (the cap)."""
    mem, ptr, index = feeds["maskmem_features"], feeds["obj_ptrs"], feeds["maskmem_tpos_index"]
    nm, npt = mem.shape[0], ptr.shape[0]
    if nm > MAX_MEMORIES or npt > MAX_POINTERS:
        raise ValueError(f"{nm} memories / {npt} pointers exceed the padded graph's slots")

    def pad(a: np.ndarray, n: int) -> np.ndarray:
        out = np.zeros((n, *a.shape[1:]), a.dtype)
        out[: len(a)] = a
        return out

    def flags(count: int, n: int) -> np.ndarray:
        return (np.arange(n) < count).astype(np.float32)

    return {
        "image_embed": feeds["image_embed"],
        "maskmem_features": pad(mem, MAX_MEMORIES),
        "maskmem_tpos_onehot": pad(np.eye(num_maskmem, dtype=np.float32)[index], MAX_MEMORIES),
        "memory_valid": flags(nm, MAX_MEMORIES),
        "obj_ptrs": pad(ptr, MAX_POINTERS),
        "obj_ptr_tpos": pad(feeds["obj_ptr_tpos"], MAX_POINTERS),
        "pointer_valid": flags(npt, MAX_POINTERS),
    }


def memory_feeds(nm: int, npt: int, seed: int = 0, tpos_dim: int = 256) -> dict[str, np.ndarray]:
    """Dynamic-graph feeds for Nm memories and Np pointers (random values; temporal indices
    as a frame's: its conditioning frame at 6, the previous frames at 5, 4, ...)."""
    rng = np.random.default_rng(seed)
    tpos = np.array([6 - t for t in range(nm)], np.int64)
    return {
        "image_embed": rng.standard_normal((1, 256, 64, 64), np.float32),
        "maskmem_features": rng.standard_normal((nm, 64, 64, 64), np.float32),
        "maskmem_tpos_index": tpos,
        "obj_ptrs": rng.standard_normal((npt, 256), np.float32),
        "obj_ptr_tpos": rng.standard_normal((npt, tpos_dim), np.float32),
    }
