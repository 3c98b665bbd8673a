"""Writing tracking results, Ctrl-C safe: palette PNG masks, COCO JSON with RLE, an overlay MP4.

Each writer takes the frames in the order they are tracked, `write(frame_idx, obj_ids, masks,
frame)`, and is finished by `close()` (a context manager closes it also when an exception, a
KeyboardInterrupt included, stops the tracking). What is on disk is always valid:

- `PngWriter`: OUT/masks/00000.png, one indexed PNG per tracked frame (the DAVIS / YouTube-VOS
  layout VOS tools read): pixel value = object id (1..255, 0 background), the DAVIS palette.
  Where objects overlap the higher id wins (as official SAM2's tools/vos_inference.py). Each file
  is written to a temporary name in the same folder, then renamed onto its name.
- `CocoWriter`: OUT/tracks.json, COCO-style: one image per tracked frame (id = frame index + 1,
  `frame_index`), one annotation per object present on a frame (`track_id` = object id,
  `segmentation` = pycocotools' compact RLE, `area`, `bbox` [x, y, w, h]); objects absent from a
  frame (empty masks) have no annotation there. Written atomically at the end, on interruption
  (`info.complete` false, the frames done so far) and every `checkpoint_s` seconds meanwhile.
- `CvatWriter`: OUT/tracks.xml, CVAT for video 1.1: one <track> per object ("object N"), on each
  tracked frame the polygon of its largest part through the boundary pixels' centres
  (sam2web.formats.cvat), `outside="1"` where it is absent. Written atomically when closed.
- `Mp4Writer`: OUT/overlay.mp4, the frames with each object's mask blended in its palette colour,
  for a quick look (H.264 through PyAV's bundled libx264, else MPEG-4 Part 2), in the order the
  frames were tracked, the long side at most 1280 px. Written under a temporary name and renamed
  when the encoder is flushed and the file closed.

Nothing is written outside the output folder given to `open_writers`.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from sam2web.atomic import save_png_atomic, write_bytes_atomic
from sam2web.errors import OutputError
from sam2web.interrupts import interrupts_deferred
from sam2web.masks import bbox_xywh, rle_encode

FORMATS = ("png", "coco", "mp4", "cvat")
MASKS_DIR = "masks"
COCO_FILE = "tracks.json"
OVERLAY_FILE = "overlay.mp4"
CVAT_FILE = "tracks.xml"
OVERLAY_MAX_SIDE = 1280
_MASK_NAME = re.compile(r"\d{5,}\.png")


def davis_palette() -> bytes:
    """The 256-colour palette of DAVIS / YouTube-VOS annotations (the PASCAL VOC colour map):
    0 black, 1 (128, 0, 0), 2 (0, 128, 0), 3 (128, 128, 0), 4 (0, 0, 128), ..."""
    out = bytearray()
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        out += bytes((r, g, b))
    return bytes(out)


DAVIS_PALETTE = davis_palette()


def mask_name(frame_idx: int) -> str:
    return f"{frame_idx:05d}.png"


def binary_masks(masks, count: int, height: int, width: int) -> np.ndarray:
    """The predictor's masks as (K, H, W) bool: bool masks as they are, logits (float) > 0;
    (K, 1, H, W) as official SAM2 returns them is accepted too."""
    m = np.asarray(masks)
    if m.ndim == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.ndim == 2 and count == 1:
        m = m[None]
    if m.shape != (count, height, width):
        raise ValueError(f"expected {count} masks of {height}x{width}, got shape {m.shape}")
    return m if m.dtype == bool else m > 0


class _Writer:
    paths: list[Path]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close(complete=exc[0] is None)

    def close(self, complete: bool = True) -> None:
        pass


class PngWriter(_Writer):
    """Indexed PNG masks, one per frame (see the module docstring)."""

    def __init__(self, out_dir: Path, height: int, width: int):
        self.folder = Path(out_dir) / MASKS_DIR
        self.folder.mkdir(parents=True, exist_ok=True)
        self.height, self.width = height, width
        self.paths = [self.folder]
        self.written = 0

    def write(self, frame_idx: int, obj_ids, masks, frame=None) -> None:
        bad = [i for i in obj_ids if not 1 <= int(i) <= 255]
        if bad:
            raise OutputError(
                f"object id {bad[0]} cannot be a palette PNG value: PNG masks need ids 1 to 255"
            )
        masks = binary_masks(masks, len(obj_ids), self.height, self.width)
        label = np.zeros((self.height, self.width), np.uint8)
        for obj_id, mask in sorted(zip(obj_ids, masks, strict=True), key=lambda p: p[0]):
            label[mask] = obj_id
        image = Image.fromarray(label)
        image.putpalette(DAVIS_PALETTE)
        save_png_atomic(image, self.folder / mask_name(frame_idx))
        self.written += 1


class CocoWriter(_Writer):
    """COCO-style JSON with per-frame RLE per object (see the module docstring)."""

    def __init__(
        self,
        out_dir: Path,
        height: int,
        width: int,
        *,
        video: str = "video",
        fps: float | None = None,
        num_frames: int | None = None,
        model: str | None = None,
        checkpoint_s: float = 30.0,
    ):
        self.path = Path(out_dir) / COCO_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.height, self.width = height, width
        self.paths = [self.path]
        self.video = {"id": 1, "file_name": video, "width": width, "height": height}
        if fps:
            self.video["fps"] = round(float(fps), 6)
        if num_frames is not None:
            self.video["length"] = int(num_frames)
        self.model = model
        self.images: list[dict] = []
        self.annotations: list[dict] = []
        self.objects: set[int] = set()
        self.checkpoint_s = checkpoint_s
        self._last_save = time.monotonic()
        self._closed = False

    def write(self, frame_idx: int, obj_ids, masks, frame=None) -> None:
        masks = binary_masks(masks, len(obj_ids), self.height, self.width)
        image_id = int(frame_idx) + 1
        self.images.append(
            {
                "id": image_id,
                "video_id": 1,
                "frame_index": int(frame_idx),
                "file_name": mask_name(frame_idx),
                "width": self.width,
                "height": self.height,
            }
        )
        for obj_id, mask in zip(obj_ids, masks, strict=True):
            self.objects.add(int(obj_id))
            box = bbox_xywh(mask)
            if box is None:
                continue
            self.annotations.append(
                {
                    "id": len(self.annotations) + 1,
                    "image_id": image_id,
                    "video_id": 1,
                    "category_id": 1,
                    "track_id": int(obj_id),
                    "segmentation": rle_encode(mask),
                    "area": int(mask.sum()),
                    "bbox": box,
                    "iscrowd": 0,
                }
            )
        if time.monotonic() - self._last_save > self.checkpoint_s:
            self.save(complete=False)

    def document(self, complete: bool) -> dict:
        return {
            "info": {
                "description": "sam2web track",
                "model": self.model,
                "complete": complete,
                "frames_written": len(self.images),
            },
            "videos": [self.video],
            "images": self.images,
            "annotations": self.annotations,
            "categories": [{"id": 1, "name": "object"}],
            "tracks": [{"id": i, "category_id": 1} for i in sorted(self.objects)],
        }

    def save(self, complete: bool) -> None:
        data = json.dumps(self.document(complete), separators=(",", ":")).encode()
        write_bytes_atomic(self.path, data)
        self._last_save = time.monotonic()

    def close(self, complete: bool = True) -> None:
        if not self._closed:
            self._closed = True
            self.save(complete)


class CvatWriter(_Writer):
    """CVAT for video XML (see the module docstring)."""

    def __init__(self, out_dir: Path, height: int, width: int):
        from sam2web.formats.cvat import CvatVideoTracks

        self.path = Path(out_dir) / CVAT_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.paths = [self.path]
        self.height, self.width = height, width
        self.tracks = CvatVideoTracks(width, height)
        self._closed = False

    def write(self, frame_idx: int, obj_ids, masks, frame=None) -> None:
        self.tracks.add(
            frame_idx, obj_ids, binary_masks(masks, len(obj_ids), self.height, self.width)
        )

    def close(self, complete: bool = True) -> None:
        if not self._closed:
            self._closed = True
            write_bytes_atomic(self.path, self.tracks.xml())


def overlay_codec() -> str:
    """libx264 where PyAV's FFmpeg has it (the PyPI wheels do), else MPEG-4 Part 2."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except av.codec.codec.UnknownCodecError:
        return "mpeg4"


def overlay_size(height: int, width: int, max_side: int = OVERLAY_MAX_SIDE) -> tuple[int, int]:
    """(height, width) of the overlay video: scaled so the long side is at most `max_side`, both
    even (yuv420p)."""
    scale = min(1.0, max_side / max(height, width))
    h = max(2, int(round(height * scale / 2)) * 2)
    w = max(2, int(round(width * scale / 2)) * 2)
    return h, w


class Mp4Writer(_Writer):
    """The frames with masks blended in, for a quick look (see the module docstring)."""

    def __init__(self, out_dir: Path, height: int, width: int, fps: float, alpha: float = 0.5):
        import av

        self._av = av
        self.path = Path(out_dir) / OVERLAY_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.paths = [self.path]
        self.height, self.width = height, width
        self.out_h, self.out_w = overlay_size(height, width)
        self.alpha = alpha
        self.codec = overlay_codec()
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self.path.name}-", suffix=".mp4", dir=self.path.parent
        )
        os.close(fd)
        self._tmp = Path(tmp)
        rate = Fraction(fps if fps and fps > 0 else 30.0).limit_denominator(1001)
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4")
            options = {"preset": "veryfast", "crf": "23"} if self.codec == "libx264" else {}
            stream = self._container.add_stream(self.codec, rate=rate, options=options)
            stream.width, stream.height, stream.pix_fmt = self.out_w, self.out_h, "yuv420p"
            if self.codec == "mpeg4":
                stream.bit_rate = 4_000_000
            self._stream = stream
        except BaseException:
            self._discard()
            raise
        self._colours = np.frombuffer(DAVIS_PALETTE, np.uint8).reshape(256, 3).astype(np.float32)
        self.written = 0
        self._closed = False

    def write(self, frame_idx: int, obj_ids, masks, frame=None) -> None:
        if frame is None:
            raise ValueError("the overlay video needs each frame's pixels")
        masks = binary_masks(masks, len(obj_ids), self.height, self.width)
        rgb = np.asarray(frame, np.float32)
        for obj_id, mask in sorted(zip(obj_ids, masks, strict=True), key=lambda p: p[0]):
            colour = self._colours[int(obj_id) % 255 or 255]
            rgb[mask] = (1 - self.alpha) * rgb[mask] + self.alpha * colour
        image = self._av.VideoFrame.from_ndarray(rgb.astype(np.uint8), format="rgb24")
        if (self.out_h, self.out_w) != (self.height, self.width):
            image = image.reformat(width=self.out_w, height=self.out_h)
        for packet in self._stream.encode(image):
            self._container.mux(packet)
        self.written += 1

    def _discard(self) -> None:
        container = getattr(self, "_container", None)
        if container is not None:
            try:
                container.close()
            except Exception:
                pass
        if self._tmp.exists():
            self._tmp.unlink()

    def close(self, complete: bool = True) -> None:
        if self._closed:
            return
        self._closed = True
        if self.written == 0:  # an MP4 of no frames is no video: leave none
            self._discard()
            return
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
            os.replace(self._tmp, self.path)
        finally:
            if self._tmp.exists():
                self._tmp.unlink()


def output_paths(out_dir: Path, formats) -> list[Path]:
    """What the formats write in `out_dir`."""
    names = {"png": MASKS_DIR, "coco": COCO_FILE, "mp4": OVERLAY_FILE, "cvat": CVAT_FILE}
    return [Path(out_dir) / names[f] for f in formats]


def prepare_out_dir(out_dir: Path, formats, *, force: bool) -> None:
    """Create `out_dir`, refusing (without --force) to mix results with earlier ones. With
    `force`, earlier results of these formats are replaced: old NNNNN.png masks in OUT/masks are
    removed (only those), tracks.json and overlay.mp4 are overwritten."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file, not a folder")
    existing = []
    for path in output_paths(out_dir, formats):
        if path.name == MASKS_DIR and path.is_dir():
            old = [p for p in path.iterdir() if _MASK_NAME.fullmatch(p.name)]
            if old:
                existing.append(f"{path} ({len(old)} masks)")
        elif path.exists():
            existing.append(str(path))
    if existing and not force:
        raise OutputError(
            f"{out_dir} already has results ({', '.join(existing)}); use --force to replace "
            "them, or another --out"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        masks = out_dir / MASKS_DIR
        if force and "png" in formats and masks.is_dir():
            for p in masks.iterdir():
                if _MASK_NAME.fullmatch(p.name) and p.is_file():
                    p.unlink()
    except OSError as exc:
        raise OutputError(f"cannot write to {out_dir} ({exc.strerror})") from None


def open_writers(
    out_dir: Path,
    formats,
    *,
    height: int,
    width: int,
    fps: float,
    video: str = "video",
    num_frames: int | None = None,
    model: str | None = None,
) -> list[_Writer]:
    """One writer per format (png, coco, mp4, cvat), in `out_dir`."""
    writers: list[_Writer] = []
    try:
        for f in dict.fromkeys(formats):
            if f == "png":
                writers.append(PngWriter(out_dir, height, width))
            elif f == "coco":
                writers.append(
                    CocoWriter(
                        out_dir,
                        height,
                        width,
                        video=video,
                        fps=fps,
                        num_frames=num_frames,
                        model=model,
                    )
                )
            elif f == "mp4":
                writers.append(Mp4Writer(out_dir, height, width, fps))
            elif f == "cvat":
                writers.append(CvatWriter(out_dir, height, width))
            else:
                raise OutputError(f"unknown output format {f!r}; choose from {', '.join(FORMATS)}")
    except BaseException:
        for w in writers:
            w.close(complete=False)
        raise
    return writers


def write_tracks(results, writers, frames=None, on_frame=None) -> int:
    """Feed `results` ((frame_idx, obj_ids, masks) as VideoPredictor.propagate_in_video yields)
    to every writer, with the frame's pixels from `frames` (a VideoFrames) for the overlay. The
    writers are closed however this ends (a KeyboardInterrupt or an error from the tracking
    included): what was written stays valid. Returns the number of frames written."""
    count = 0
    complete = False
    try:
        for frame_idx, obj_ids, masks in results:
            frame_idx = int(frame_idx)
            obj_ids = [int(i) for i in obj_ids]
            pixels = frames.get(frame_idx) if frames is not None else None
            # Every writer gets the frame or none does: a Ctrl-C waits for the frame's last file.
            with interrupts_deferred():
                for w in writers:
                    try:
                        w.write(frame_idx, obj_ids, masks, pixels)
                    except OSError as exc:
                        raise OutputError(
                            f"writing frame {frame_idx} failed ({exc.strerror or exc})"
                        ) from None
                count += 1
                if on_frame is not None:
                    on_frame(frame_idx)
        complete = True
    finally:
        problem = None
        for w in writers:
            try:
                w.close(complete=complete)
            except Exception as exc:  # close the others, then report the first problem
                problem = problem or exc
        if problem is not None and complete:
            raise OutputError(f"finishing the outputs failed ({problem})") from problem
    return count
