"""A video's frames, decoded when asked for: what `VideoPredictor.init_state(video)` reads.

Contract:

    frames = open_video(source)   # a video file, a folder of frames, or frames in memory
    len(frames)                   # number of frames (> 0)
    frames.height, frames.width   # every frame's size, as displayed (rotation metadata applied)
    frames.fps                    # frames per second (30.0 for folders and arrays unless given)
    frames.get(idx)               # (height, width, 3) uint8 RGB, read-only; also frames[idx]
    frames.close()                # or `with open_video(...) as frames:`

`source` is one of:

- a video file: .mp4 .m4v .mov .webm .mkv .avi, decoded with PyAV (FFmpeg). The file is indexed
  once at open (its packets are read, not decoded) and frame 0 is decoded to check it. Frames are
  then decoded on demand: reading forward continues the decoder, any other index seeks to the
  keyframe before it. Decoded frames are kept in a small cache with a byte budget, so memory does
  not grow with the video's length or resolution: the frames just before the last one read stay
  cached, which also makes reverse propagation cheap within the cache.
- a folder of .jpg/.jpeg/.png frames, ordered by the number in their names as official SAM2
  orders its JPEG folders (`int(stem)`: 2.jpg before 10.jpg), other names in natural order
  (frame2.png before frame10.png). Frames are read on demand, with no EXIF rotation (as official).
- an array (N, H, W, 3) uint8, or an iterable of (H, W, 3) uint8 arrays or PIL images (an
  iterator is read once, into memory: pass a file or folder for long videos).
- a `VideoFrames` (returned as is).

Policy for large frames: every frame is RGB at full resolution (a 4K frame is 24.9 MB), and at most
`cache_bytes` (default 256 MiB: about ten 4K frames, at most 64 frames) are kept, so a 4K video
works in bounded memory. Frames above SAM2WEB_MAX_VIDEO_PIXELS (default 8K UHD, 7680x4320 =
33.2 megapixels) are refused with a clear message before anything is decoded.

Every problem is a `BadVideoError` subclass (see sam2web.errors) with a plain message: not a
video, corrupt or truncated, unsupported codec, zero frames, too large, frame index out of range.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from sam2web.errors import (
    BadVideoError,
    CorruptVideoError,
    EmptyVideoError,
    FrameIndexError,
    NotAVideoError,
    UnsupportedCodecError,
    VideoTooLargeError,
)

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
# FFmpeg demuxers of those containers (av.open(...).format.name); anything else is refused even
# with a video extension (FFmpeg reads a text file as "tty" art, for one).
_CONTAINER_FORMATS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi")
DEFAULT_MAX_VIDEO_PIXELS = 7680 * 4320
DEFAULT_CACHE_BYTES = 256 * 2**20
DEFAULT_CACHE_FRAMES = 64
DEFAULT_FPS = 30.0


def max_video_pixels() -> int:
    return int(os.environ.get("SAM2WEB_MAX_VIDEO_PIXELS", DEFAULT_MAX_VIDEO_PIXELS))


def as_video(source):
    """A frame source for tracking: anything with __len__, height, width and get(idx) (a
    VideoFrames among them) is used as is; anything else goes through `open_video`."""
    if all(hasattr(source, a) for a in ("__len__", "height", "width", "get")):
        return source
    return open_video(source)


def open_video(
    source,
    *,
    fps: float | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    max_cache_frames: int = DEFAULT_CACHE_FRAMES,
) -> VideoFrames:
    """Open a video file, a folder of frames, or frames in memory (see the module docstring).
    `fps` overrides the frame rate (folders and arrays have none: 30 by default)."""
    if isinstance(source, VideoFrames):
        return source
    if fps is not None and not (np.isfinite(fps) and fps > 0):
        raise BadVideoError(f"fps must be a positive number, got {fps!r}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            # Any frame is read alone (no decoding ahead to keep): a few cached frames suffice.
            small = min(8, max_cache_frames)
            return FolderFrames(path, fps=fps, cache_bytes=cache_bytes, max_cache_frames=small)
        if not path.exists():
            raise NotAVideoError(f"video not found: {path}")
        if not path.is_file():
            raise NotAVideoError(f"{path} is not a video file or a folder of frames")
        return FileFrames(path, fps=fps, cache_bytes=cache_bytes, max_cache_frames=max_cache_frames)
    if isinstance(source, (bytes, bytearray)):
        raise NotAVideoError("pass a path to a video file, not its bytes")
    if isinstance(source, np.ndarray) or isinstance(source, Iterable):
        return ArrayFrames(source, fps=fps)
    raise NotAVideoError(
        f"cannot read a video from a {type(source).__name__}: give a video file, a folder of "
        "frames, an array (N, H, W, 3) or a list of (H, W, 3) uint8 frames"
    )


class VideoFrames:
    """Frames of one video, all height x width RGB uint8. Subclasses implement `_read`."""

    name: str = "video"
    height: int
    width: int
    fps: float

    def __init__(self, count: int, cache_bytes: int, max_cache_frames: int):
        self._count = count
        frame_bytes = max(1, self.height * self.width * 3)
        # At least one frame, at most the budget (and max_cache_frames).
        self.cache_frames = max(1, min(max_cache_frames, cache_bytes // frame_bytes))
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {self._count} frames, "
            f"{self.width}x{self.height} @ {self.fps:g} fps>"
        )

    @property
    def cache_nbytes(self) -> int:
        """Bytes of decoded frames held right now (bounded by the cache budget)."""
        return sum(a.nbytes for a in self._cache.values())

    def get(self, idx: int) -> np.ndarray:
        """Frame `idx` as a read-only (height, width, 3) uint8 RGB array."""
        idx = self._check_index(idx)
        with self._lock:
            frame = self._cache.get(idx)
            if frame is not None:
                self._cache.move_to_end(idx)
                return frame
            return self._read(idx)

    __getitem__ = get

    def __iter__(self) -> Iterator[np.ndarray]:
        for i in range(self._count):
            yield self.get(i)

    def close(self) -> None:
        self._cache.clear()

    def __enter__(self) -> VideoFrames:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_index(self, idx) -> int:
        if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)):
            raise FrameIndexError(f"frame index must be an integer, got {idx!r}")
        idx = int(idx)
        if not 0 <= idx < self._count:
            raise FrameIndexError(
                f"frame {idx} is out of range: {self.name} has {self._count} frames "
                f"(0 to {self._count - 1})"
            )
        return idx

    def _remember(self, idx: int, frame: np.ndarray) -> np.ndarray:
        frame.flags.writeable = False
        self._cache[idx] = frame
        self._cache.move_to_end(idx)
        while len(self._cache) > self.cache_frames:
            self._cache.popitem(last=False)
        return frame

    def _read(self, idx: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _check_pixels(width: int, height: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise CorruptVideoError(f"{name} has frames of zero size ({width}x{height})")
    limit = max_video_pixels()
    if width * height > limit:
        raise VideoTooLargeError(
            f"{name} is {width}x{height} = {width * height:,} pixels per frame, over the limit "
            f"of {limit:,} (default: 7680x4320, 8K UHD); scale it down first (e.g. ffmpeg -i IN "
            "-vf scale=-2:2160 OUT.mp4) or set SAM2WEB_MAX_VIDEO_PIXELS to raise the limit"
        )


# --- video files (PyAV) ---------------------------------------------------------------------

_MAGIC = [
    ("a PNG image", lambda b: b.startswith(b"\x89PNG")),
    ("a JPEG image", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("a GIF image", lambda b: b.startswith(b"GIF8")),
    ("a WebP image", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("a WAV audio file", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    ("a PDF document", lambda b: b.startswith(b"%PDF-")),
    ("a ZIP archive", lambda b: b.startswith(b"PK\x03\x04")),
    ("an MP3 audio file", lambda b: b.startswith(b"ID3")),
]


def _container_magic(head: bytes) -> bool:
    """Whether the first bytes are those of an MP4/MOV, Matroska/WebM or AVI file."""
    return (
        head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip")
        or head.startswith(b"\x1a\x45\xdf\xa3")
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
    )


def _not_a_video(path: Path, head: bytes) -> NotAVideoError:
    looks = next((what for what, test in _MAGIC if test(head)), None)
    if looks is None and head and all(c in b"\t\n\r" or 32 <= c < 127 for c in head[:64]):
        looks = "a text file"
    hint = f" (it looks like {looks})" if looks else ""
    return NotAVideoError(
        f"{path.name} is not a video this tool can read{hint}; use "
        f"{', '.join(VIDEO_EXTENSIONS)} or a folder of frames"
    )


class FileFrames(VideoFrames):
    """A video file decoded with PyAV on demand (see the module docstring)."""

    def __init__(self, path: Path, *, fps=None, cache_bytes, max_cache_frames):
        import av

        self._av = av
        self.path = path
        self.name = path.name
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            with open(path, "rb") as f:
                head = f.read(64)
            if path.suffix.lower() in FRAME_EXTENSIONS or not _container_magic(head):
                raise _not_a_video(path, head)
            raise NotAVideoError(
                f"{path.name}: unknown video extension {path.suffix!r}; "
                f"use {', '.join(VIDEO_EXTENSIONS)}"
            )
        size = path.stat().st_size
        if size == 0:
            raise NotAVideoError(f"{path.name} is empty (0 bytes)")
        with open(path, "rb") as f:
            head = f.read(64)
        try:
            self._container = av.open(str(path), mode="r", metadata_errors="ignore")
        except av.error.EOFError:
            raise CorruptVideoError(
                f"{path.name} ends before any video data: it is truncated, or was written "
                "with no frames"
            ) from None
        except (av.FFmpegError, OSError, ValueError) as exc:
            if _container_magic(head):
                raise CorruptVideoError(
                    f"{path.name} is corrupt or truncated: FFmpeg cannot read its structure "
                    f"({_reason(exc)})"
                ) from None
            raise _not_a_video(path, head) from None
        try:
            self._setup(path, head, fps)
        except BaseException:
            self._container.close()
            raise
        super().__init__(len(self._pts), cache_bytes, max_cache_frames)
        self._decoder: Iterator | None = None
        self._next = 0  # index the decoder yields next (when self._decoder is not None)
        try:
            first = self._decode_to(0)  # checks the codec on real data; frame 0 is cached
        except BaseException:
            self._container.close()
            raise
        rotated = first.shape[:2] != (self.height, self.width)
        if rotated:  # rotation metadata known only once a frame is decoded
            self.height, self.width = first.shape[:2]

    def _setup(self, path: Path, head: bytes, fps) -> None:
        av = self._av
        container = self._container
        if container.format.name.split(",")[0] not in _CONTAINER_FORMATS:
            raise _not_a_video(path, head)
        if not container.streams.video:
            if not container.streams:
                raise EmptyVideoError(f"{path.name} has no frames (no video track)")
            kinds = sorted({s.type for s in container.streams})
            raise NotAVideoError(
                f"{path.name} has no video stream (only {', '.join(kinds)}): not a video"
            )
        stream = container.streams.video[0]
        self._stream = stream
        if stream.codec_context is None:
            raise UnsupportedCodecError(
                f"{path.name}: its video codec is not one this build of FFmpeg (PyAV) can "
                "decode; convert it first, e.g. ffmpeg -i IN -c:v libx264 -pix_fmt yuv420p OUT.mp4"
            )
        self.codec = stream.codec_context.name
        self.width = stream.codec_context.width
        self.height = stream.codec_context.height
        _check_pixels(self.width, self.height, path.name)
        stream.thread_type = "AUTO"
        rate = fps or stream.average_rate or stream.guessed_rate or stream.base_rate
        self.fps = float(rate) if rate else DEFAULT_FPS
        # The index: every video packet's timestamp (read, not decoded), sorted into display
        # order, and which of them start a keyframe.
        pts, keys = [], []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:
                    continue
                ts = packet.pts if packet.pts is not None else packet.dts
                pts.append(ts)
                keys.append(packet.is_keyframe)
        except av.FFmpegError as exc:
            raise CorruptVideoError(
                f"{path.name} is corrupt or truncated: reading it failed after "
                f"{len(pts)} frames ({_reason(exc)})"
            ) from None
        if not pts:
            raise EmptyVideoError(f"{path.name} has no frames")
        declared = stream.frames
        if declared and len(pts) < declared:
            raise CorruptVideoError(
                f"{path.name} is truncated: it declares {declared} frames but holds only "
                f"{len(pts)} (re-encode or re-download it)"
            )
        self._check_matroska_duration(stream, pts)
        self._seekable = None not in pts and len(set(pts)) == len(pts)
        if self._seekable:
            order = np.argsort(np.asarray(pts, dtype=np.int64), kind="stable")
            self._pts = np.asarray(pts, dtype=np.int64)[order]
            self._keyframes = np.flatnonzero(np.asarray(keys, dtype=bool)[order])
        else:  # no usable timestamps: frames counted in decode order, seeking from the start
            self._pts = np.arange(len(pts), dtype=np.int64)
            self._keyframes = np.array([0])
        if len(self._keyframes) == 0 or self._keyframes[0] != 0:
            self._keyframes = np.concatenate([[0], self._keyframes]).astype(np.int64)

    def _check_matroska_duration(self, stream, pts) -> None:
        """Matroska/WebM declares no frame count, but each track's DURATION tag (written by
        FFmpeg at the start of the file): a truncated file holds clearly less video than that."""
        if "matroska" not in self._container.format.name or None in pts:
            return
        match = re.fullmatch(r"(\d+):(\d\d):(\d\d(?:\.\d+)?)", stream.metadata.get("DURATION", ""))
        if match is None or stream.time_base is None:
            return
        h, m, sec = match.groups()
        declared = int(h) * 3600 + int(m) * 60 + float(sec)
        held = float(max(pts) * stream.time_base) + 1 / self.fps
        if declared - held > max(3 / self.fps, 0.25):
            raise CorruptVideoError(
                f"{self.name} is truncated: it declares {declared:.2f} s of video but holds only "
                f"{held:.2f} s ({len(pts)} frames); re-encode or re-download it"
            )

    def close(self) -> None:
        super().close()
        self._decoder = None
        container = getattr(self, "_container", None)
        if container is not None:
            container.close()

    def _read(self, idx: int) -> np.ndarray:
        return self._decode_to(idx)

    def _start(self, idx: int) -> None:
        """Position the decoder at the keyframe at or before `idx`."""
        key = int(self._keyframes[np.searchsorted(self._keyframes, idx, side="right") - 1])
        if self._seekable and key > 0:
            self._container.seek(int(self._pts[key]), stream=self._stream, backward=True)
        else:
            key = 0
            self._container.seek(0, stream=self._stream, backward=True, any_frame=False)
        self._decoder = self._container.decode(self._stream)
        self._next = key
        self._floor = key  # frames before it (open-GOP leftovers after a seek) are dropped

    def _decode_to(self, idx: int) -> np.ndarray:
        av = self._av
        key = int(self._keyframes[np.searchsorted(self._keyframes, idx, side="right") - 1])
        if self._decoder is None or self._next > idx or self._next < key:
            self._start(idx)
        restarted = False
        while True:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    frame = next(self._decoder)
            except StopIteration:
                self._decoder = None
                raise CorruptVideoError(
                    f"{self.name} is corrupt or truncated: frame {idx} of {len(self)} could not "
                    "be decoded (the data ends early)"
                ) from None
            except (av.FFmpegError, ValueError) as exc:
                self._decoder = None
                raise CorruptVideoError(
                    f"{self.name} is corrupt: decoding frame {idx} failed ({_reason(exc)})"
                ) from None
            if self._seekable and frame.pts is not None:
                at = int(np.searchsorted(self._pts, frame.pts))
                if at >= len(self._pts) or self._pts[at] != frame.pts:
                    at = self._next
            else:
                at = self._next
            if at < self._floor:
                continue
            if at > idx:
                # The seek landed after the frame (inexact index): decode from the start.
                if restarted or not self._seekable:
                    self._decoder = None
                    raise CorruptVideoError(
                        f"{self.name}: frame {idx} could not be found in the file (damaged index)"
                    )
                self._seekable = False
                self._keyframes = np.array([0])
                self._start(0)
                restarted = True
                continue
            self._next = at + 1
            if at == idx or idx - at < self.cache_frames:
                rgb = self._to_rgb(frame)
                if at == idx:
                    return self._remember(at, rgb)
                self._remember(at, rgb)

    def _to_rgb(self, frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        turns = round((frame.rotation or 0) / 90) % 4
        if turns:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=turns))
        return rgb


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return re.sub(r"\s*:\s*'[^']*'$", "", text).strip() or type(exc).__name__


# --- folders of frames ----------------------------------------------------------------------


def _natural_key(name: str):
    stem = Path(name).stem
    if stem.isdigit():
        return (0, int(stem), name)
    parts = re.split(r"(\d+)", stem.lower())
    return (1, [int(p) if p.isdigit() else p for p in parts], name)


class FolderFrames(VideoFrames):
    """A folder of JPEG/PNG frames, read on demand (see the module docstring)."""

    def __init__(self, folder: Path, *, fps=None, cache_bytes, max_cache_frames):
        from PIL import Image

        self._Image = Image
        self.path = folder
        self.name = folder.name or str(folder)
        try:
            names = [
                e.name
                for e in os.scandir(folder)
                if e.is_file()
                and not e.name.startswith(".")
                and os.path.splitext(e.name)[1].lower() in FRAME_EXTENSIONS
            ]
        except OSError as exc:
            raise NotAVideoError(f"cannot read the folder {folder} ({exc.strerror})") from None
        if not names:
            raise EmptyVideoError(
                f"the folder {folder} has no frames ({', '.join(FRAME_EXTENSIONS)} files)"
            )
        self.files = [folder / n for n in sorted(names, key=_natural_key)]
        self.fps = float(fps) if fps else DEFAULT_FPS
        self.width, self.height = self._size(0)
        _check_pixels(self.width, self.height, f"{self.name}/{self.files[0].name}")
        super().__init__(len(self.files), cache_bytes, max_cache_frames)

    def _size(self, idx: int) -> tuple[int, int]:
        with self._open(idx) as img:
            return img.size

    def _open(self, idx: int):
        Image = self._Image
        path = self.files[idx]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                return Image.open(path)
        except FileNotFoundError:
            raise CorruptVideoError(
                f"frame {idx} ({path.name}) was removed from {self.path}"
            ) from None
        except Image.DecompressionBombError:
            raise VideoTooLargeError(f"frame {idx} ({path.name}) is too large to decode") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptVideoError(
                f"frame {idx} ({path.name}) in {self.path} is not a readable image ({exc})"
            ) from None

    def _read(self, idx: int) -> np.ndarray:
        path = self.files[idx]
        img = self._open(idx)
        try:
            with img:
                if img.size != (self.width, self.height):
                    raise BadVideoError(
                        f"frame {idx} ({path.name}) is {img.width}x{img.height}, but the frames "
                        f"of {self.path} are {self.width}x{self.height}: all must be the same size"
                    )
                img.load()
                rgb = np.asarray(img.convert("RGB"))
        except BadVideoError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise CorruptVideoError(
                f"frame {idx} ({path.name}) in {self.path} is corrupt or truncated ({exc})"
            ) from None
        return self._remember(idx, np.array(rgb))


# --- frames in memory -----------------------------------------------------------------------


class ArrayFrames(VideoFrames):
    """Frames already in memory: an (N, H, W, 3) uint8 array or a sequence of frames."""

    def __init__(self, source, *, fps=None):
        self.name = "frames"
        self.fps = float(fps) if fps else DEFAULT_FPS
        if isinstance(source, np.ndarray):
            if source.ndim != 4 or source.shape[-1] != 3:
                raise BadVideoError(
                    f"a video array must be (N, H, W, 3) uint8 RGB, got shape {source.shape}"
                )
            frames = source
        else:
            try:
                frames = list(source)
            except BadVideoError:
                raise
            except TypeError:
                raise NotAVideoError(f"cannot read frames from a {type(source).__name__}") from None
            frames = [_as_frame(f, i) for i, f in enumerate(frames)]
        if len(frames) == 0:
            raise EmptyVideoError("the video has no frames (an empty sequence)")
        first = frames[0] if isinstance(frames, list) else source[0]
        self.height, self.width = int(first.shape[0]), int(first.shape[1])
        _check_pixels(self.width, self.height, "the video")
        if isinstance(frames, np.ndarray):
            if frames.dtype != np.uint8:
                raise BadVideoError(f"video frames must be uint8 RGB, got {frames.dtype}")
        else:
            for i, f in enumerate(frames):
                if f.shape[:2] != (self.height, self.width):
                    raise BadVideoError(
                        f"frame {i} is {f.shape[1]}x{f.shape[0]}, but frame 0 is "
                        f"{self.width}x{self.height}: all frames must be the same size"
                    )
        self._frames = frames
        super().__init__(len(frames), 0, 1)
        self.cache_frames = 0

    @property
    def cache_nbytes(self) -> int:
        return 0

    def _read(self, idx: int) -> np.ndarray:
        frame = self._frames[idx]
        view = np.ascontiguousarray(frame).view()
        view.flags.writeable = False
        return view


def _as_frame(frame, i: int) -> np.ndarray:
    if hasattr(frame, "convert") and hasattr(frame, "size"):  # a PIL image
        return np.asarray(frame.convert("RGB"))
    array = np.asarray(frame)
    if array.ndim != 3 or array.shape[2] != 3:
        raise BadVideoError(f"frame {i} must be (H, W, 3) uint8 RGB, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise BadVideoError(f"frame {i} must be uint8 RGB, got {array.dtype}")
    return array
