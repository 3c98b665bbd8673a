"""The memory bank of the video tracker: which frames' memories and object pointers a frame
attends to, their temporal encodings, bf16 storage, and where the memories live.

Mirrors `SAM2Base._prepare_memory_conditioned_features` (sam2_base.py) step for step:

- spatial memories: every conditioning frame (temporal index num_maskmem-1, i.e. t_pos 0; at most
  `max_cond_frames_in_attn` of them, the temporally closest, when that is set), plus the
  num_maskmem-1 frames before the current one in the tracking direction (t_pos 1..6: index
  num_maskmem-t_pos-1), skipped where there is none;
- object pointers: the conditioning frames not after the current one (not before it when
  tracking in reverse), at signed distance (frame_idx - t) * sign, then the non-conditioning
  frames 1..min(num_frames, 16)-1 back, at distance t_diff; their sine encoding normalised by
  t_diff_max = min(num_frames, 16) - 1;
- memories stored rounded to bfloat16 (round to nearest even, as torch's `.to(torch.bfloat16)`),
  pointers and scores in float32.

Memory is bounded: conditioning frames (the ones the user prompted) stay in RAM; a tracked frame's
record (its bf16 memory, its low-res logits, its pointer and score) stays in RAM only while it is
within reach of the frame being tracked (16 frames), then is written to a spill folder on disk
and read back only when asked for again (a later propagation or a correction click near it), so
RAM does not grow with the video's length while results stay identical to keeping everything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass

import numpy as np

NO_OBJ_SCORE = -1024.0


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), round to nearest even (NaN stays NaN)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    rounded = ((bits + (0x7FFF + ((bits >> 16) & 1))) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = 0x7FC0
    return rounded


def from_bf16(bits: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16) -> float32 (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def sine_pe(pos: np.ndarray, dim: int, temperature: float = 10000.0) -> np.ndarray:
    """sam2_utils.get_1d_sine_pe in float32: [N] positions -> [N, dim] (sin half, cos half)."""
    pe_dim = dim // 2
    dim_t = np.arange(pe_dim, dtype=np.float32)
    dim_t = np.float32(temperature) ** (np.float32(2) * (dim_t // 2) / np.float32(pe_dim))
    pos_embed = np.asarray(pos, np.float32)[:, None] / dim_t
    return np.concatenate([np.sin(pos_embed), np.cos(pos_embed)], axis=-1).astype(np.float32)


@dataclass
class FrameRecord:
    """One object's output on one frame (official `compact_current_out`): maskmem bf16 bits
    [64, 64, 64] (None until encoded), pred_masks low-res logits [1, 1, 256, 256], obj_ptr
    [hidden_dim], object_score_logits [1, 1]."""

    pred_masks: np.ndarray
    obj_ptr: np.ndarray
    object_score_logits: np.ndarray
    maskmem: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        extra = 0 if self.maskmem is None else self.maskmem.nbytes
        return self.pred_masks.nbytes + self.obj_ptr.nbytes + extra


class SpillStore:
    """Frame records on disk, one .npz per (object, frame), in a private temporary folder that
    is removed when the store (its tracking state) goes away."""

    def __init__(self, parent: str | os.PathLike | None = None):
        self.root = tempfile.mkdtemp(prefix="sam2web-track-", dir=parent)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)

    def _path(self, key: int, frame_idx: int) -> str:
        return os.path.join(self.root, f"{key}-{frame_idx}.npz")

    def put(self, key: int, frame_idx: int, record: FrameRecord) -> None:
        arrays = {
            "pred_masks": record.pred_masks,
            "obj_ptr": record.obj_ptr,
            "object_score_logits": record.object_score_logits,
        }
        if record.maskmem is not None:
            arrays["maskmem"] = record.maskmem
        tmp = self._path(key, frame_idx) + ".tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, self._path(key, frame_idx))

    def get(self, key: int, frame_idx: int) -> FrameRecord:
        with np.load(self._path(key, frame_idx)) as data:
            return FrameRecord(
                pred_masks=data["pred_masks"],
                obj_ptr=data["obj_ptr"],
                object_score_logits=data["object_score_logits"],
                maskmem=data["maskmem"] if "maskmem" in data.files else None,
            )

    def drop(self, key: int, frame_idx: int) -> None:
        try:
            os.remove(self._path(key, frame_idx))
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self._finalizer()


class NonCondFrames:
    """One object's tracked (non-conditioning) frame records: a dict-like view over records in
    RAM and records spilled to disk. `trim` spills those out of reach of the current frame."""

    def __init__(self, store: SpillStore, key: int):
        self._store, self._key = store, key
        self._ram: dict[int, FrameRecord] = {}
        self._disk: set[int] = set()  # frames whose latest record is on disk only

    def __contains__(self, frame_idx: int) -> bool:
        return frame_idx in self._ram or frame_idx in self._disk

    def __len__(self) -> int:
        return len(self._ram) + len(self._disk)

    def get(self, frame_idx: int, default=None) -> FrameRecord | None:
        record = self._ram.get(frame_idx)
        if record is not None:
            return record
        if frame_idx in self._disk:
            return self._store.get(self._key, frame_idx)
        return default

    def __getitem__(self, frame_idx: int) -> FrameRecord:
        record = self.get(frame_idx)
        if record is None:
            raise KeyError(frame_idx)
        return record

    def __setitem__(self, frame_idx: int, record: FrameRecord) -> None:
        if frame_idx in self._disk:
            self._disk.discard(frame_idx)
            self._store.drop(self._key, frame_idx)
        self._ram[frame_idx] = record

    def pop(self, frame_idx: int, default=None):
        record = self.get(frame_idx, default)
        self._ram.pop(frame_idx, None)
        if frame_idx in self._disk:
            self._disk.discard(frame_idx)
            self._store.drop(self._key, frame_idx)
        return record

    def frames(self) -> list[int]:
        return sorted({*self._ram, *self._disk})

    def clear(self) -> None:
        for frame_idx in list(self._disk):
            self._store.drop(self._key, frame_idx)
        self._ram.clear()
        self._disk.clear()

    def trim(self, frame_idx: int, reach: int, reverse: bool) -> None:
        """Spill every RAM record outside the `reach` frames behind `frame_idx` (in the
        tracking direction): the only ones the next frames read."""
        lo, hi = (frame_idx, frame_idx + reach) if reverse else (frame_idx - reach, frame_idx)
        for t in [t for t in self._ram if not lo <= t <= hi]:
            self._store.put(self._key, t, self._ram.pop(t))
            self._disk.add(t)

    @property
    def ram_bytes(self) -> int:
        return sum(r.nbytes for r in self._ram.values())


@dataclass
class TrackingConfig:
    """The official tracker's settings (bundle's video_constants.json `config`)."""

    num_maskmem: int = 7
    max_obj_ptrs_in_encoder: int = 16
    max_cond_frames_in_attn: int = -1
    memory_temporal_stride_for_eval: int = 1
    hidden_dim: int = 256
    mem_dim: int = 64
    image_size: int = 1024
    backbone_stride: int = 16
    use_obj_ptrs_in_encoder: bool = True
    add_tpos_enc_to_obj_ptrs: bool = True
    proj_tpos_enc_in_obj_ptrs: bool = True
    use_signed_tpos_enc_to_obj_ptrs: bool = True
    only_obj_ptrs_in_the_past_for_eval: bool = True
    pred_obj_scores: bool = True
    fixed_no_obj_ptr: bool = True
    soft_no_obj_ptr: bool = False
    multimask_output_in_sam: bool = True
    multimask_output_for_tracking: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    use_mask_input_as_output_without_sam: bool = True
    directly_add_no_mem_embed: bool = True
    binarize_mask_from_pts_for_mem_enc: bool = True

    @classmethod
    def from_dict(cls, data: dict) -> TrackingConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def reach(self) -> int:
        """How many frames back a tracked frame still reads memories or pointers from."""
        return max(self.num_maskmem - 1, self.max_obj_ptrs_in_encoder - 1) * max(
            1, self.memory_temporal_stride_for_eval
        )


def select_closest_cond_frames(frame_idx: int, cond: dict, max_cond_frame_num: int):
    """sam2_utils.select_closest_cond_frames: -> (selected, unselected) dicts."""
    if max_cond_frame_num == -1 or len(cond) <= max_cond_frame_num:
        return cond, {}
    selected = {}
    before = max((t for t in cond if t < frame_idx), default=None)
    if before is not None:
        selected[before] = cond[before]
    after = min((t for t in cond if t >= frame_idx), default=None)
    if after is not None:
        selected[after] = cond[after]
    remain = max_cond_frame_num - len(selected)
    rest = sorted((t for t in cond if t not in selected), key=lambda x: abs(x - frame_idx))
    selected.update((t, cond[t]) for t in rest[:remain])
    return selected, {t: v for t, v in cond.items() if t not in selected}


@dataclass
class MemoryInputs:
    """The memory attention graph's memory inputs for one frame of one object."""

    maskmem_features: np.ndarray  # [Nm, 64, 64, 64] float32 (bf16 values)
    maskmem_tpos_index: np.ndarray  # [Nm] int64
    obj_ptrs: np.ndarray  # [Np, hidden_dim]
    obj_ptr_tpos: np.ndarray  # [Np, tpos_dim]
    frames: list[int]  # which frames the spatial memories come from (for inspection)
    pointer_frames: list[int]

    def feeds(self) -> dict[str, np.ndarray]:
        return {
            "maskmem_features": self.maskmem_features,
            "maskmem_tpos_index": self.maskmem_tpos_index,
            "obj_ptrs": self.obj_ptrs,
            "obj_ptr_tpos": self.obj_ptr_tpos,
        }


def gather_memories(
    cfg: TrackingConfig,
    frame_idx: int,
    cond: dict[int, FrameRecord],
    non_cond: NonCondFrames,
    num_frames: int,
    reverse: bool,
) -> MemoryInputs:
    """What a non-initial-conditioning frame attends to (official
    `_prepare_memory_conditioned_features`, Step 1)."""
    if not cond:
        raise ValueError("an object with no conditioning frame has no memory to track from")
    selected, unselected = select_closest_cond_frames(frame_idx, cond, cfg.max_cond_frames_in_attn)
    t_pos_and_prevs = [(0, out, t) for t, out in selected.items()]
    stride = cfg.memory_temporal_stride_for_eval
    for t_pos in range(1, cfg.num_maskmem):
        t_rel = cfg.num_maskmem - t_pos
        if t_rel == 1:
            prev = frame_idx + t_rel if reverse else frame_idx - t_rel
        elif not reverse:
            prev = ((frame_idx - 2) // stride) * stride - (t_rel - 2) * stride
        else:
            prev = -(-(frame_idx + 2) // stride) * stride + (t_rel - 2) * stride
        out = non_cond.get(prev)
        if out is None:
            out = unselected.get(prev)
        t_pos_and_prevs.append((t_pos, out, prev))
    feats, tpos, frames = [], [], []
    for t_pos, prev, t in t_pos_and_prevs:
        if prev is None:
            continue
        feats.append(from_bf16(prev.maskmem))
        tpos.append(cfg.num_maskmem - t_pos - 1)
        frames.append(t)

    pos_and_ptrs, ptr_frames = [], []
    if cfg.use_obj_ptrs_in_encoder:
        max_ptrs = min(num_frames, cfg.max_obj_ptrs_in_encoder)
        if cfg.only_obj_ptrs_in_the_past_for_eval:
            ptr_cond = {
                t: out
                for t, out in selected.items()
                if (t >= frame_idx if reverse else t <= frame_idx)
            }
        else:
            ptr_cond = selected
        sign = -1 if reverse else 1
        for t, out in ptr_cond.items():
            dist = (
                (frame_idx - t) * sign
                if cfg.use_signed_tpos_enc_to_obj_ptrs
                else abs(frame_idx - t)
            )
            pos_and_ptrs.append((dist, out.obj_ptr))
            ptr_frames.append(t)
        for t_diff in range(1, max_ptrs):
            t = frame_idx + t_diff if reverse else frame_idx - t_diff
            if t < 0 or t >= num_frames:
                break
            out = non_cond.get(t)
            if out is None:
                out = unselected.get(t)
            if out is not None:
                pos_and_ptrs.append((t_diff, out.obj_ptr))
                ptr_frames.append(t)
    c, mem = cfg.hidden_dim, cfg.mem_dim
    tpos_dim = c if cfg.proj_tpos_enc_in_obj_ptrs else mem
    if pos_and_ptrs:
        pos = np.array([p for p, _ in pos_and_ptrs], np.float32)
        ptrs = np.stack([np.asarray(p, np.float32).reshape(c) for _, p in pos_and_ptrs])
        if cfg.add_tpos_enc_to_obj_ptrs:
            t_diff_max = np.float32(max_ptrs - 1)
            obj_pos = sine_pe(pos / t_diff_max, tpos_dim)
        else:
            obj_pos = np.zeros((len(pos), tpos_dim), np.float32)
    else:
        ptrs = np.zeros((0, c), np.float32)
        obj_pos = np.zeros((0, tpos_dim), np.float32)
    return MemoryInputs(
        maskmem_features=np.stack(feats).astype(np.float32),
        maskmem_tpos_index=np.array(tpos, np.int64),
        obj_ptrs=ptrs,
        obj_ptr_tpos=obj_pos,
        frames=frames,
        pointer_frames=ptr_frames,
    )
