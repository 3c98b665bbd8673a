"""One tracking run as `sam2web track` does it: the prompts checked against the video, the frame
range worked out, the prompts given to the predictor and the propagation started. Shared by the
`track` command (cli.py) and the batch workers (sam2web.batch.workers), so both give the same
masks for the same prompts.

groups: {(obj_id, frame_idx): {"points": [[x, y], ...], "labels": [...], "box": [x0, y0, x1, y1] or
None}}, as cli._prompt_groups makes them from the command line."""

from __future__ import annotations

import math

from sam2web.errors import BadPromptError, FrameIndexError


def check_inside(prompt: dict, width: int, height: int, obj_id: int, frame_idx: int) -> None:
    xy = [("--point", p) for p in prompt["points"]]
    if prompt["box"] is not None:
        x0, y0, x1, y1 = prompt["box"]
        if x1 < x0 or y1 < y0:
            raise BadPromptError(
                f"--box {x0:g},{y0:g},{x1:g},{y1:g} (object {obj_id}): give X0,Y0,X1,Y1 with "
                "X0 <= X1 and Y0 <= Y1"
            )
        xy += [("--box corner", (x0, y0)), ("--box corner", (x1, y1))]
    for what, (x, y) in xy:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise BadPromptError(f"{what} {x:g},{y:g} (object {obj_id}) is not a finite number")
        if not (0 <= x <= width and 0 <= y <= height):
            raise BadPromptError(
                f"{what} {x:g},{y:g} (object {obj_id}, frame {frame_idx}) lies outside the "
                f"{width}x{height} frame (x in [0, {width}], y in [0, {height}])"
            )


def plan(frames, groups: dict, start: int | None, end: int | None, reverse: bool):
    """Check the prompts against the opened video `frames`; -> (start, number of frames to
    track). Raises FrameIndexError / BadPromptError with the command line's wording."""
    n = len(frames)
    for (obj_id, frame_idx), prompt in groups.items():
        if not 0 <= frame_idx < n:
            raise FrameIndexError(
                f"--frame {frame_idx} (object {obj_id}) is out of range: {frames.name} has "
                f"{n} frames (0 to {n - 1})"
            )
        check_inside(prompt, frames.width, frames.height, obj_id, frame_idx)
    prompted = sorted({f for _, f in groups})
    if start is None:
        start = prompted[-1] if reverse else prompted[0]
    for name, value in (("--start", start), ("--end", end)):
        if value is not None and not 0 <= value < n:
            raise FrameIndexError(
                f"{name} {value} is out of range: {frames.name} has {n} frames (0 to {n - 1})"
            )
    if end is not None and (end < start if not reverse else end > start):
        raise BadPromptError(
            f"--end {end} is {'before' if not reverse else 'after'} --start {start}"
            + (" (with --reverse, --end is the earlier frame)" if reverse else "")
        )
    last = end if end is not None else (0 if reverse else n - 1)
    # Official propagation yields nothing backwards from frame 0.
    todo = 0 if reverse and start == 0 else abs(last - start) + 1
    return start, todo


def propagate(predictor, frames, groups: dict, start: int, end: int | None, reverse: bool):
    """Give `groups` to `predictor` (a VideoPredictor) on `frames`; -> the propagation's
    (frame_idx, obj_ids, masks) iterator, as track_outputs.write_tracks takes it."""
    state = predictor.init_state(frames)
    for (obj_id, frame_idx), prompt in groups.items():
        predictor.add_new_points_or_box(
            state,
            frame_idx=frame_idx,
            obj_id=obj_id,
            points=prompt["points"] or None,
            labels=prompt["labels"] or None,
            box=prompt["box"],
        )
    return predictor.propagate_in_video(
        state,
        start_frame_idx=start,
        max_frame_num_to_track=None if end is None else abs(end - start),
        reverse=reverse,
    )
