"""What both trackers (`VideoPredictor`'s SAM2 memory and `FrameByFramePredictor`) keep of one
video: its frames, the objects in the order they were added, cached image features and every
frame's masks as RLE. Each tracker's state adds its own per-object record (`new_object`)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from sam2web.errors import BadPromptError, FrameIndexError, Sam2WebError, UnknownObjectError
from sam2web.masks import rle_counts, rle_string, rle_string_counts
from sam2web.predict.video_frames import as_video


class TrackingSession:
    def __init__(self, video):
        self.video = as_video(video)
        self.num_frames = len(self.video)
        if self.num_frames <= 0:
            raise Sam2WebError("the video has no frames")
        self.video_height, self.video_width = int(self.video.height), int(self.video.width)
        self.objects: OrderedDict[int, object] = OrderedDict()
        self.features: OrderedDict[int, dict] = OrderedDict()
        # frame -> obj_id -> the mask as COCO RLE in pycocotools' compact string (ASCII bytes)
        self.results: dict[int, dict[int, bytes]] = {}

    @property
    def obj_ids(self) -> list[int]:
        return list(self.objects)

    def check_frame(self, frame_idx) -> int:
        if isinstance(frame_idx, bool) or not isinstance(frame_idx, (int, np.integer)):
            raise FrameIndexError(f"frame index must be an integer, got {frame_idx!r}")
        if not 0 <= frame_idx < self.num_frames:
            raise FrameIndexError(
                f"frame {frame_idx} is out of range: the video has {self.num_frames} frames "
                f"(0 to {self.num_frames - 1})"
            )
        return int(frame_idx)

    def frame_order(self, start_frame_idx, max_frame_num_to_track, reverse: bool) -> range:
        """The frames from `start_frame_idx`, at most `max_frame_num_to_track` more (None: to the
        end), forwards or in reverse; official propagation yields nothing backwards from frame 0.
        (web/src/engine/video/video.ts frameOrder.)"""
        start = self.check_frame(start_frame_idx)
        count = self.num_frames if max_frame_num_to_track is None else max_frame_num_to_track
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise Sam2WebError("max_frame_num_to_track must be a whole number >= 0")
        if reverse:
            return range(start, max(start - count, 0) - 1, -1) if start > 0 else range(0)
        return range(start, min(start + count, self.num_frames - 1) + 1)

    def new_object(self):
        """A fresh per-object record of this tracker."""
        raise NotImplementedError

    def object(self, obj_id, create: bool = False):
        if isinstance(obj_id, bool) or not isinstance(obj_id, (int, np.integer)):
            raise BadPromptError(f"object ids are integers, got {obj_id!r}")
        obj_id = int(obj_id)
        obj = self.objects.get(obj_id)
        if obj is None:
            if not create:
                known = ", ".join(map(str, self.objects)) or "none yet"
                raise UnknownObjectError(f"no object with id {obj_id} (objects: {known})")
            obj = self.objects[obj_id] = self.new_object()
        return obj

    def remember(self, frame_idx: int, obj_id: int, mask: np.ndarray) -> None:
        """Keep an object's (H, W) bool mask on a frame, compactly."""
        self.results.setdefault(frame_idx, {})[obj_id] = rle_string(rle_counts(mask)).encode(
            "ascii"
        )

    def forget(self, obj_id: int) -> None:
        """Drop an object and every mask it had."""
        del self.objects[int(obj_id)]
        for per_frame in self.results.values():
            per_frame.pop(int(obj_id), None)

    def mask(self, frame_idx: int, obj_id: int) -> np.ndarray | None:
        """The last mask given for an object on a frame, (H, W) bool, or None."""
        rle = self.results.get(self.check_frame(frame_idx), {}).get(int(obj_id))
        if rle is None:
            return None
        counts = rle_string_counts(rle)
        flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
        return flat.reshape(self.video_width, self.video_height).T

    def close(self) -> None:
        self.features.clear()
