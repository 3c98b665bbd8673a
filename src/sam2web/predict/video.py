"""`VideoPredictor`: SAM2 video tracking on ONNX Runtime, mirroring
`sam2.sam2_video_predictor.SAM2VideoPredictor` (same names, arguments and algorithm).

    from sam2web import VideoPredictor

    predictor = VideoPredictor.from_bundle("bundles/sam2.1-hiera-tiny-fp32")
    state = predictor.init_state("clip.mp4")          # or a folder of frames, or arrays
    predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, points=[[210, 350]], labels=[1])
    predictor.add_new_points_or_box(state, frame_idx=12, obj_id=2, box=[300, 0, 500, 400])
    for frame_idx, obj_ids, mask_logits in predictor.propagate_in_video(state):
        masks = mask_logits[:, 0] > 0                 # (objects, H, W) at the video's size

Step for step as official (sam2_video_predictor.py / sam2_base.py): a prompt on a frame the object
has not been tracked on makes it a conditioning frame (decoded SAM-style from the frame's own
features, no memory); a prompt on a tracked frame corrects it (memory-conditioned, stored as a
tracked frame, decoded with the previous logits as mask input); `propagate_in_video` first encodes
the prompted frames' memories (binarized masks), then tracks every frame that is not a
conditioning frame with memory attention over the bank (predict/memory.py), multimask output
with the best predicted IoU, occlusion when the object score is <= 0 (masks -1024, the
no-object pointer, the no-object memory embedding), memories stored as bf16. Objects are tracked
one at a time (batch 1), each with its own memory bank, sharing the frame's image features.

Differences from official, on purpose: an object may be first prompted on any frame, also after
other objects were tracked (official 1.1.0 on a CPU crashes when an object's only memory is a
future conditioning frame: its bf16 memory is not promoted to fp32; here memories are fp32 copies
of the bf16 values, which is what official computes where it runs); bad input gets a sam2web error
(frame index out of range, unknown object, points outside the frame or NaN); frames are decoded
when needed, only the last frames' image features are kept, tracked frames' memories beyond reach
are spilled to disk (predict/memory.py), and per-frame results are kept as RLE
(`state.mask(frame_idx, obj_id)`).

Hole filling: `fill_hole_area` (default 8, as `build_sam2_video_predictor` sets it; 0 turns it off)
fills background regions of at most that many low-res pixels in every frame's logits, where
official applies it (predict/mask_holes.py): the outputs, the stored logits a correction click
starts from and the prompted frames' memories see filled masks; a tracked frame's memory is
encoded from its unfilled mask. Official CPU installs skip this step (it needs their CUDA
extension); sam2web applies it everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from sam2web.errors import BadPromptError, Sam2WebError, UnknownObjectError
from sam2web.manifest import Manifest, read_manifest
from sam2web.predict import transforms as T
from sam2web.predict.frame_by_frame import FrameByFramePredictor
from sam2web.predict.mask_holes import fill_holes_in_mask_scores
from sam2web.predict.memory import (
    NO_OBJ_SCORE,
    FrameRecord,
    NonCondFrames,
    SpillStore,
    TrackingConfig,
    gather_memories,
    to_bf16,
)
from sam2web.predict.sessions import Sessions
from sam2web.predict.tracking_session import TrackingSession

VIDEO_GRAPHS = ("encoder", "memory_attention", "memory_encoder", "video_decoder")
FEATURE_CACHE_FRAMES = 2
# Official `build_sam2_video_predictor`'s fill_hole_area (build_sam.py).
DEFAULT_FILL_HOLE_AREA = 8


# -- frames ------------------------------------------------------------------------------------


def preprocess_frame(rgb: np.ndarray, size: int, mean, std) -> np.ndarray:
    """The video predictor's own frame preprocessing (sam2/utils/misc.py `_load_img_as_tensor`
    and `load_video_frames_from_jpg_images`): uint8 RGB squashed to size x size with Pillow's
    default resample (bicubic), /255 in float64, stored as float32, then ImageNet mean/std.
    -> (1, 3, size, size) float32."""
    resized = np.asarray(Image.fromarray(np.ascontiguousarray(rgb, np.uint8)).resize((size, size)))
    x = (resized / 255.0).astype(np.float32).transpose(2, 0, 1)
    x -= np.asarray(mean, np.float32)[:, None, None]
    x /= np.asarray(std, np.float32)[:, None, None]
    return x[None]


def _resize_antialiased(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """(H, W) float32 -> (h, w): torch's bilinear with antialias=True, align_corners=False
    (Pillow's float bilinear is the same filter, see predict/transforms.py)."""
    return np.asarray(
        Image.fromarray(np.ascontiguousarray(x, np.float32), mode="F").resize(
            (w, h), Image.Resampling.BILINEAR
        ),
        np.float32,
    )


# -- state -------------------------------------------------------------------------------------


@dataclass
class ObjectTrack:
    """One object's prompts, outputs and memory bank (official `*_per_obj[obj_idx]`)."""

    key: int
    non_cond: NonCondFrames
    point_inputs: dict = field(default_factory=dict)  # frame -> (coords (1,N,2), labels (1,N))
    mask_inputs: dict = field(default_factory=dict)  # frame -> (1, 1, S, S) float
    cond: dict = field(default_factory=dict)  # frame -> FrameRecord
    temp_cond: dict = field(default_factory=dict)
    temp_non_cond: dict = field(default_factory=dict)
    frames_tracked: dict = field(default_factory=dict)  # frame -> reverse

    def temp(self, is_cond: bool) -> dict:
        return self.temp_cond if is_cond else self.temp_non_cond

    def latest(self, frame_idx: int, is_cond: bool) -> FrameRecord | None:
        """The most recent output on a frame (official lookup order)."""
        out = self.temp(is_cond).get(frame_idx)
        if out is None:
            out = self.cond.get(frame_idx)
        if out is None:
            out = self.non_cond.get(frame_idx)
        return out

    def clear(self) -> None:
        for d in (
            self.point_inputs,
            self.mask_inputs,
            self.cond,
            self.temp_cond,
            self.temp_non_cond,
            self.frames_tracked,
        ):
            d.clear()
        self.non_cond.clear()


class VideoState(TrackingSession):
    """A tracking session on one video (official `inference_state`)."""

    def __init__(self, video, spill_dir=None):
        super().__init__(video)
        self.spill = SpillStore(spill_dir)
        self._next_key = 0

    def new_object(self) -> ObjectTrack:
        track = ObjectTrack(key=self._next_key, non_cond=NonCondFrames(self.spill, self._next_key))
        self._next_key += 1
        return track

    def ram_bytes(self) -> int:
        """Bytes of memory-bank records and cached features held in RAM (for tests and
        benchmarks: bounded whatever the video's length)."""
        total = sum(a.nbytes for f in self.features.values() for a in f.values())
        for obj in self.objects.values():
            total += obj.non_cond.ram_bytes
            for d in (obj.cond, obj.temp_cond, obj.temp_non_cond):
                total += sum(r.nbytes for r in d.values())
        return total

    def close(self) -> None:
        self.spill.close()
        super().close()


# -- predictor ---------------------------------------------------------------------------------


class VideoPredictor:
    """SAM2 tracking with the memory bank. fill_hole_area: fill background regions of at most
    this many pixels of the 256x256 low-res masks (official's meaning and default; 0: off).
    sessions: ready sessions of the VIDEO_GRAPHS roles (anything with Sessions' `run`), e.g. on
    another execution provider with options of its own; default: made here from providers and
    threads."""

    method = "SAM2 memory"
    has_memory = True

    def __init__(
        self,
        manifest: Manifest,
        providers=None,
        verify: bool = True,
        threads: int | None = None,
        spill_dir=None,
        fill_hole_area: int = DEFAULT_FILL_HOLE_AREA,
        sessions=None,
    ):
        if isinstance(fill_hole_area, bool) or not isinstance(fill_hole_area, (int, np.integer)):
            raise Sam2WebError(f"fill_hole_area must be a whole number, got {fill_hole_area!r}")
        if fill_hole_area < 0:
            raise Sam2WebError(f"fill_hole_area must be 0 (off) or more, got {fill_hole_area}")
        if manifest.family != "sam2":
            raise Sam2WebError(
                f"bundle {manifest.id} is a {manifest.family} model; video tracking needs a SAM2 "
                "bundle"
            )
        manifest.require("video")
        if verify:
            manifest.verify_files()
        self.manifest = manifest
        self.fill_hole_area = int(fill_hole_area)
        if sessions is None:
            sessions = Sessions(manifest, VIDEO_GRAPHS, providers=providers, threads=threads)
        self.sessions = sessions
        constants = json.loads(manifest.path_of("video_constants").read_text())
        self.cfg = TrackingConfig.from_dict(constants["config"])
        self.no_mem_embed = np.asarray(constants["no_mem_embed"], np.float32).reshape(1, -1, 1, 1)
        self.no_obj_ptr = (
            None
            if constants.get("no_obj_ptr") is None
            else np.asarray(constants["no_obj_ptr"], np.float32)
        )
        conv = constants.get("mask_downsample")
        self.mask_downsample = None
        if conv is not None:
            k = conv["kernel"]
            self.mask_downsample = (
                np.asarray(conv["weight"], np.float32).reshape(k),
                np.float32(conv["bias"][0]),
            )
        self.image_size = manifest.input_size
        self.low_res = self.image_size // 4
        self.mask_threshold = manifest.mask_threshold
        self.spill_dir = spill_dir
        # Tracked frames' records kept in RAM behind the current frame (the rest are spilled to
        # disk and read back when asked for: same results, bounded memory).
        self.keep_frames = self.cfg.reach

    @classmethod
    def from_bundle(
        cls,
        path: str | Path,
        providers=None,
        verify: bool = True,
        threads: int | None = None,
        spill_dir=None,
        fill_hole_area: int = DEFAULT_FILL_HOLE_AREA,
    ) -> VideoPredictor | FrameByFramePredictor:
        """spill_dir: where tracked frames' memories beyond reach go (default: the system's
        temporary folder; removed with the tracking state); fill_hole_area: see the class.
        A SAM1-family bundle (no memory graphs) gives a FrameByFramePredictor: the same calls,
        tracking frame by frame with no SAM2 memory (predict/frame_by_frame.py)."""
        manifest = read_manifest(path)
        if manifest.family != "sam2":
            return FrameByFramePredictor(
                manifest, providers=providers, verify=verify, threads=threads
            )
        return cls(
            manifest,
            providers=providers,
            verify=verify,
            threads=threads,
            spill_dir=spill_dir,
            fill_hole_area=fill_hole_area,
        )

    # -- session ---------------------------------------------------------------------------

    def init_state(self, video) -> VideoState:
        """Start tracking on a video: a file (mp4, webm, mov, mkv, avi), a folder of frames, an
        (N, H, W, 3) uint8 array or a list of frames, or any object with __len__, height, width
        and get(idx) -> (H, W, 3) uint8 RGB. Frames are decoded when needed."""
        return VideoState(video, spill_dir=self.spill_dir)

    def reset_state(self, state: VideoState) -> None:
        """Remove every object, prompt and result."""
        for obj in state.objects.values():
            obj.clear()
        state.objects.clear()
        state.results.clear()

    # -- features --------------------------------------------------------------------------

    def _features(self, state: VideoState, frame_idx: int) -> dict[str, np.ndarray]:
        feats = state.features.get(frame_idx)
        if feats is not None:
            state.features.move_to_end(frame_idx)
            return feats
        rgb = np.asarray(state.video.get(frame_idx))
        if rgb.shape != (state.video_height, state.video_width, 3):
            raise Sam2WebError(
                f"frame {frame_idx} is {rgb.shape}, not ({state.video_height}, "
                f"{state.video_width}, 3) like the video"
            )
        image = preprocess_frame(rgb, self.image_size, self.manifest.mean, self.manifest.std)
        feats = self.sessions.run("encoder", {"image": image})
        state.features[frame_idx] = feats
        while len(state.features) > FEATURE_CACHE_FRAMES:
            state.features.popitem(last=False)
        return feats

    # -- one frame of one object (official _run_single_frame_inference / track_step) -------

    def _use_multimask(self, is_init_cond_frame: bool, point_inputs) -> bool:
        cfg = self.cfg
        num_pts = 0 if point_inputs is None else point_inputs[1].shape[1]
        return (
            cfg.multimask_output_in_sam
            and (is_init_cond_frame or cfg.multimask_output_for_tracking)
            and cfg.multimask_min_pt_num <= num_pts <= cfg.multimask_max_pt_num
        )

    def _decode(self, embed, feats, point_inputs, mask_input, multimask: bool):
        """official `_forward_sam_heads` -> (low_res_masks (1,1,S,S), obj_ptr (C,), score)."""
        if point_inputs is None:
            coords, labels = np.zeros((1, 1, 2), np.float32), -np.ones((1, 1), np.float32)
        else:
            coords, labels = point_inputs
        if mask_input is None:
            mask = np.zeros((1, 1, self.low_res, self.low_res), np.float32)
            has_mask = np.zeros(1, np.float32)
        else:
            mask, has_mask = mask_input.astype(np.float32), np.ones(1, np.float32)
        out = self.sessions.run(
            "video_decoder",
            {
                "image_embed": embed,
                "high_res_feats_0": feats["high_res_feats_0"],
                "high_res_feats_1": feats["high_res_feats_1"],
                "point_coords": coords.astype(np.float32),
                "point_labels": labels.astype(np.float32),
                "mask_input": mask,
                "has_mask_input": has_mask,
            },
        )
        score = out["object_score_logits"].astype(np.float32)
        ptrs = out["obj_ptr"][0]
        if multimask:
            best = int(np.argmax(out["iou_predictions"][0]))
            low = out["masks"][:, best : best + 1]
            ptr = ptrs[1 + best] if self.cfg.use_multimask_token_for_obj_ptr else ptrs[0]
        else:
            low, ptr = out["single_mask"], ptrs[0]
        if self.cfg.pred_obj_scores:
            appearing = score > 0
            low = np.where(appearing[:, :, None, None], low, np.float32(NO_OBJ_SCORE))
            ptr = self._gate_pointer(ptr, score, appearing)
        return low.astype(np.float32), ptr.astype(np.float32), score

    def _gate_pointer(self, ptr, score, appearing):
        """official: obj_ptr = lambda * obj_ptr + (1 - lambda) * no_obj_ptr (fixed_no_obj_ptr)."""
        if self.cfg.soft_no_obj_ptr:
            lam = (1 / (1 + np.exp(-score))).astype(np.float32).reshape(1)
        else:
            lam = appearing.astype(np.float32).reshape(1)
        if self.cfg.fixed_no_obj_ptr:
            ptr = lam * ptr
        return ptr + (np.float32(1) - lam) * self.no_obj_ptr

    def _mask_as_output(self, feats, mask_inputs):
        """official `_use_mask_as_output`: a given mask (1,1,S,S) in {0,1} is the output."""
        mask = mask_inputs[0, 0].astype(np.float32)
        high = mask * np.float32(20.0) + np.float32(-10.0)
        low = _resize_antialiased(high, self.low_res, self.low_res)[None, None]
        appearing = np.array([[mask.any()]])
        lam = appearing.astype(np.float32)
        if self.cfg.use_obj_ptrs_in_encoder:
            raw = feats["image_embed"] - self.no_mem_embed
            weight, bias = self.mask_downsample
            k = weight.shape[-1]
            blocks = mask.reshape(self.low_res, k, self.low_res, k)
            prompt = np.einsum("ikjl,kl->ij", blocks, weight) + bias
            _, ptr, _ = self._decode(raw, feats, None, prompt[None, None], multimask=False)
        else:
            ptr = np.zeros(self.cfg.hidden_dim, np.float32)
        score = np.float32(20.0) * lam + np.float32(-10.0)
        if self.cfg.pred_obj_scores:
            if self.cfg.fixed_no_obj_ptr:
                ptr = lam.reshape(1) * ptr
            ptr = ptr + (np.float32(1) - lam.reshape(1)) * self.no_obj_ptr
        return low.astype(np.float32), ptr.astype(np.float32), score.astype(np.float32)

    def _encode_memory(self, feats, low_res_masks, score, binarize: bool) -> np.ndarray:
        out = self.sessions.run(
            "memory_encoder",
            {
                "image_embed": feats["image_embed"],
                "mask_logits": low_res_masks.astype(np.float32),
                "object_score_logits": np.asarray(score, np.float32).reshape(1, 1),
                "binarize": np.array([1.0 if binarize else 0.0], np.float32),
            },
        )["maskmem_features"]
        return to_bf16(out[0])

    def _track_frame(
        self,
        state: VideoState,
        obj: ObjectTrack,
        frame_idx: int,
        is_init_cond_frame: bool,
        point_inputs,
        mask_inputs,
        reverse: bool,
        run_mem_encoder: bool,
        prev_sam_mask_logits=None,
    ) -> FrameRecord:
        feats = self._features(state, frame_idx)
        if mask_inputs is not None and self.cfg.use_mask_input_as_output_without_sam:
            low, ptr, score = self._mask_as_output(feats, mask_inputs)
        else:
            if is_init_cond_frame:
                embed = feats["image_embed"]  # + no_mem_embed, as the encoder gives it
            else:
                memory = gather_memories(
                    self.cfg, frame_idx, obj.cond, obj.non_cond, state.num_frames, reverse
                )
                embed = self.sessions.run(
                    "memory_attention", {"image_embed": feats["image_embed"], **memory.feeds()}
                )["pix_feat_with_mem"]
            mask_input = mask_inputs
            if prev_sam_mask_logits is not None:
                mask_input = prev_sam_mask_logits
            elif mask_inputs is not None and mask_inputs.shape[-1] != self.low_res:
                mask_input = _resize_antialiased(mask_inputs[0, 0], self.low_res, self.low_res)[
                    None, None
                ]
            multimask = self._use_multimask(is_init_cond_frame, point_inputs)
            low, ptr, score = self._decode(embed, feats, point_inputs, mask_input, multimask)
        record = FrameRecord(pred_masks=low, obj_ptr=ptr, object_score_logits=score)
        if run_mem_encoder and self.cfg.num_maskmem > 0:
            record.maskmem = self._encode_memory(feats, low, score, point_inputs is not None)
        if self.fill_hole_area > 0:  # official: after track_step, so not in this memory
            record.pred_masks = fill_holes_in_mask_scores(low, self.fill_hole_area)
        return record

    # -- prompts ---------------------------------------------------------------------------

    def add_new_points_or_box(
        self,
        state: VideoState,
        frame_idx: int,
        obj_id: int,
        points=None,
        labels=None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box=None,
    ):
        """Clicks (and/or a box) for one object on one frame -> (frame_idx, obj_ids, mask
        logits (objects, 1, H, W) at the video's size for every object on that frame).
        points (N, 2) x, y in pixels (in [0, 1] with normalize_coords=False); labels (N,) 1
        positive / 0 negative; box x0, y0, x1, y1."""
        frame_idx = state.check_frame(frame_idx)
        if (points is not None) != (labels is not None):
            raise BadPromptError("points and labels must be given together")
        if points is None and box is None:
            raise BadPromptError("give points (with labels) or a box")
        if box is not None and not clear_old_points:
            raise BadPromptError(
                "a box cannot be added to earlier points (it must come first): use "
                "clear_old_points=True"
            )
        coords, labs = self._prompt_arrays(state, points, labels, box, normalize_coords)
        obj = state.object(obj_id, create=True)
        if not clear_old_points and frame_idx in obj.point_inputs:
            old_c, old_l = obj.point_inputs[frame_idx]
            coords = np.concatenate([old_c, coords], axis=1)
            labs = np.concatenate([old_l, labs], axis=1)
        point_inputs = (coords, labs)
        obj.point_inputs[frame_idx] = point_inputs
        obj.mask_inputs.pop(frame_idx, None)
        is_init_cond_frame = frame_idx not in obj.frames_tracked
        reverse = False if is_init_cond_frame else obj.frames_tracked[frame_idx]
        is_cond = is_init_cond_frame
        prev = obj.latest(frame_idx, is_cond)
        prev_logits = None
        if prev is not None and prev.pred_masks is not None:
            prev_logits = np.clip(prev.pred_masks, -32.0, 32.0).astype(np.float32)
        out = self._track_frame(
            state,
            obj,
            frame_idx,
            is_init_cond_frame,
            point_inputs,
            None,
            reverse,
            run_mem_encoder=False,
            prev_sam_mask_logits=prev_logits,
        )
        obj.temp(is_cond)[frame_idx] = out
        return frame_idx, state.obj_ids, self._frame_output(state, frame_idx, is_cond)

    def add_new_points(self, *args, **kwargs):
        """Deprecated official name of add_new_points_or_box."""
        return self.add_new_points_or_box(*args, **kwargs)

    def add_new_mask(self, state: VideoState, frame_idx: int, obj_id: int, mask):
        """A mask (H, W) for one object on one frame (any size; resized to the model's input
        as official) -> (frame_idx, obj_ids, mask logits at the video's size)."""
        frame_idx = state.check_frame(frame_idx)
        m = np.asarray(mask)
        if m.ndim != 2 or m.size == 0:
            raise BadPromptError(f"a mask must be one (H, W) array, got shape {m.shape}")
        if m.dtype != bool and not np.isfinite(m.astype(np.float64)).all():
            raise BadPromptError("the mask contains NaN or infinite values")
        m = m.astype(bool).astype(np.float32)
        size = self.image_size
        if m.shape != (size, size):
            m = (_resize_antialiased(m, size, size) >= 0.5).astype(np.float32)
        mask_inputs = m[None, None]
        obj = state.object(obj_id, create=True)
        obj.mask_inputs[frame_idx] = mask_inputs
        obj.point_inputs.pop(frame_idx, None)
        is_init_cond_frame = frame_idx not in obj.frames_tracked
        reverse = False if is_init_cond_frame else obj.frames_tracked[frame_idx]
        is_cond = is_init_cond_frame
        out = self._track_frame(
            state, obj, frame_idx, is_init_cond_frame, None, mask_inputs, reverse, False
        )
        obj.temp(is_cond)[frame_idx] = out
        return frame_idx, state.obj_ids, self._frame_output(state, frame_idx, is_cond)

    def _prompt_arrays(self, state, points, labels, box, normalize_coords):
        """official layout: box corners (labels 2, 3) first, then the points; coordinates
        scaled to the model's input size. -> coords (1, N, 2), labels (1, N) float32."""
        h, w = state.video_height, state.video_width
        limit = (w, h) if normalize_coords else (1, 1)
        parts_c, parts_l = [], []
        if box is not None:
            b = np.asarray(box, np.float32)
            if b.size != 4:
                raise BadPromptError(f"a box is 4 numbers x0, y0, x1, y1, got shape {b.shape}")
            b = b.reshape(1, 2, 2)
            T_check(b, limit, "box corner", normalize_coords)
            if b[0, 1, 0] < b[0, 0, 0] or b[0, 1, 1] < b[0, 0, 1]:
                raise BadPromptError("a box must be given as x0,y0,x1,y1 with x0<=x1 and y0<=y1")
            parts_c.append(b)
            parts_l.append(np.array([[2, 3]], np.float32))
        if points is not None:
            p = np.asarray(points, np.float32)
            if p.ndim == 1 and p.size == 2:
                p = p[None]
            if p.ndim == 2:
                p = p[None]
            if p.ndim != 3 or p.shape[0] != 1 or p.shape[-1] != 2:
                raise BadPromptError(f"points must be (N, 2) x, y pairs, got shape {p.shape}")
            T_check(p, limit, "point", normalize_coords)
            lab = np.asarray(labels)
            if not np.issubdtype(lab.dtype, np.number) or not np.isfinite(lab).all():
                raise BadPromptError("point labels must be numbers: 1 positive, 0 negative")
            lab = lab.astype(np.float32).reshape(1, -1)
            if lab.shape[1] != p.shape[1]:
                raise BadPromptError(f"{lab.shape[1]} labels given for {p.shape[1]} points")
            if not np.isin(lab, (0, 1, 2, 3)).all():
                raise BadPromptError("point labels must be 1 (positive) or 0 (negative)")
            parts_c.append(p)
            parts_l.append(lab)
        coords = np.concatenate(parts_c, axis=1)
        labs = np.concatenate(parts_l, axis=1)
        if normalize_coords:
            coords = coords / np.array([w, h], np.float32)
        coords = (coords * np.float32(self.image_size)).astype(np.float32)
        return coords, labs

    def _frame_output(self, state: VideoState, frame_idx: int, is_cond: bool) -> np.ndarray:
        """official `_consolidate_temp_output_across_obj` at video resolution: every object's
        latest logits on the frame (-1024 where it has none) -> (objects, 1, H, W)."""
        h, w = state.video_height, state.video_width
        out = np.full((len(state.objects), 1, h, w), NO_OBJ_SCORE, np.float32)
        for i, (obj_id, obj) in enumerate(state.objects.items()):
            rec = obj.latest(frame_idx, is_cond)
            if rec is None:
                continue
            out[i] = T.upsample_logits(rec.pred_masks[0], (h, w))
            state.remember(frame_idx, obj_id, out[i, 0] > self.mask_threshold)
        return out

    # -- tracking --------------------------------------------------------------------------

    def _preflight(self, state: VideoState) -> None:
        """official `propagate_in_video_preflight`: encode the prompted frames' memories."""
        if not state.objects:
            raise Sam2WebError("no object has prompts yet: add points, a box or a mask first")
        for obj_id, obj in state.objects.items():
            for is_cond in (False, True):
                temp = obj.temp(is_cond)
                for frame_idx, out in temp.items():
                    if out.maskmem is None:
                        feats = self._features(state, frame_idx)
                        out.maskmem = self._encode_memory(
                            feats, out.pred_masks, out.object_score_logits, binarize=True
                        )
                    (obj.cond if is_cond else obj.non_cond)[frame_idx] = out
                temp.clear()
            if not obj.cond:
                raise Sam2WebError(
                    f"object {obj_id} has no prompts on any frame it was not tracked on; add "
                    "points, a box or a mask for it first"
                )
            for frame_idx in obj.cond:
                obj.non_cond.pop(frame_idx, None)

    def propagate_in_video(
        self,
        state: VideoState,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """Track every object through the video -> yields (frame_idx, obj_ids, mask logits
        (objects, 1, H, W) at the video's size), frame by frame. Starts at the earliest
        prompted frame unless start_frame_idx says otherwise; reverse=True goes backwards."""
        self._preflight(state)
        if start_frame_idx is None:
            start_frame_idx = min(t for obj in state.objects.values() for t in obj.cond)
        order = state.frame_order(start_frame_idx, max_frame_num_to_track, reverse)
        obj_ids = state.obj_ids
        h, w = state.video_height, state.video_width
        for frame_idx in order:
            out = np.empty((len(obj_ids), 1, h, w), np.float32)
            for i, obj_id in enumerate(obj_ids):
                obj = state.objects[obj_id]
                if frame_idx in obj.cond:
                    rec = obj.cond[frame_idx]
                else:
                    rec = self._track_frame(
                        state, obj, frame_idx, False, None, None, reverse, run_mem_encoder=True
                    )
                    obj.non_cond[frame_idx] = rec
                obj.frames_tracked[frame_idx] = reverse
                out[i] = T.upsample_logits(rec.pred_masks[0], (h, w))
                state.remember(frame_idx, obj_id, out[i, 0] > self.mask_threshold)
                obj.non_cond.trim(frame_idx, self.keep_frames, reverse)
            yield frame_idx, obj_ids, out

    # -- objects ---------------------------------------------------------------------------

    def clear_all_prompts_in_frame(
        self, state: VideoState, frame_idx: int, obj_id: int, need_output: bool = True
    ):
        """Remove one object's prompts on a frame (its output there becomes a tracked frame's)."""
        frame_idx = state.check_frame(frame_idx)
        obj = state.object(obj_id)
        obj.point_inputs.pop(frame_idx, None)
        obj.mask_inputs.pop(frame_idx, None)
        obj.temp_cond.pop(frame_idx, None)
        obj.temp_non_cond.pop(frame_idx, None)
        out = obj.cond.pop(frame_idx, None)
        if out is not None:
            obj.non_cond[frame_idx] = out
            obj.frames_tracked.pop(frame_idx, None)
        if not need_output:
            return None
        is_cond = any(frame_idx in o.temp_cond for o in state.objects.values())
        return frame_idx, state.obj_ids, self._frame_output(state, frame_idx, is_cond)

    def remove_object(
        self, state: VideoState, obj_id: int, strict: bool = False, need_output: bool = True
    ):
        """Remove an object -> (remaining obj_ids, [(frame_idx, mask logits)] of the frames it
        had prompts on). An unknown id is ignored unless strict=True."""
        try:
            obj = state.object(obj_id)
        except UnknownObjectError:
            if strict:
                raise
            return state.obj_ids, []
        if len(state.objects) == 1:
            self.reset_state(state)
            return state.obj_ids, []
        frames = sorted({*obj.point_inputs, *obj.mask_inputs})
        obj.clear()
        state.forget(obj_id)
        updated = []
        if need_output:
            for frame_idx in frames:
                is_cond = any(frame_idx in o.temp_cond for o in state.objects.values())
                updated.append((frame_idx, self._frame_output(state, frame_idx, is_cond)))
        return state.obj_ids, updated


def T_check(xy: np.ndarray, limit: tuple[float, float], what: str, pixels: bool) -> None:
    """Coordinates must be finite and inside the frame ([0, W] x [0, H] in pixels, [0, 1]
    normalized)."""
    if not np.isfinite(xy).all():
        raise BadPromptError(f"{what} coordinates contain NaN or infinite values")
    w, h = limit
    bad = (xy[..., 0] < 0) | (xy[..., 0] > w) | (xy[..., 1] < 0) | (xy[..., 1] > h)
    if bad.any():
        x, y = xy[bad][0]
        where = f"the {w}x{h} frame" if pixels else "[0, 1] (normalize_coords=False)"
        raise BadPromptError(f"{what} ({x:g}, {y:g}) lies outside {where}")
