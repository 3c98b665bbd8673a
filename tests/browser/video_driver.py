"""Drives the real video page (video.html) the way a person does: files, clicks, drags, keys,
buttons, downloads. What the page did is read from its data-* telemetry and its exports."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile

import numpy as np
from PIL import Image

TIMEOUT_S = 240
# VIDEO_DEBUG=1: print the tracking progress line while waiting (long runs on emulated GPUs).
DEBUG = bool(os.environ.get("VIDEO_DEBUG"))


class VideoPage:
    def __init__(self, page, url: str, timeout_s: float = TIMEOUT_S):
        self.page = page
        self.url = url
        self.timeout_s = timeout_s
        self.console: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def data(self, key: str) -> str:
        return self.page.evaluate(f"document.body.dataset.{key} ?? ''")

    def status(self) -> str:
        return self.page.inner_text("#status")

    def wait_until(self, predicate, what: str):
        deadline = time.time() + self.timeout_s
        last = ""
        while not predicate():
            if DEBUG:
                info = self.page.inner_text("#track-info")
                if info != last:
                    print(time.strftime("%H:%M:%S"), info, flush=True)
                    last = info
            if time.time() > deadline:
                raise TimeoutError(
                    f"{what} did not happen in {self.timeout_s:.0f} s; status: {self.status()!r}; "
                    f"console: {self.console[-20:]}"
                )
            self.page.wait_for_timeout(50)

    def open(self, query: str = ""):
        self.page.goto(self.url + "video.html" + query)
        self.wait_until(
            lambda: self.data("ready") == "true" or self.data("error"), "the model loading"
        )
        assert self.data("ready") == "true", self.data("error")
        return self

    def _open(self, selector: str, paths) -> str:
        """Opens files; -> '' when the video opened, else the page's error message."""
        self.page.evaluate(
            "delete document.body.dataset.error; document.body.dataset.videoReady = 'false'"
        )
        self.page.set_input_files(selector, [str(p) for p in paths])
        self.wait_until(
            lambda: self.data("videoReady") == "true" or self.data("error"), "opening the video"
        )
        return self.data("error")

    def open_frames(self, paths) -> str:
        return self._open("#frames-input", paths)

    def open_video(self, path) -> str:
        return self._open("#video-input", [path])

    @property
    def frame(self) -> int:
        return int(self.data("frame"))

    def seek(self, frame_idx: int):
        """Frame-step keys until the timeline shows frame_idx."""
        self.page.locator("#stage").hover()
        while self.frame != frame_idx:
            before = self.frame
            self.page.keyboard.press("ArrowRight" if frame_idx > before else "ArrowLeft")
            self.wait_until(lambda b=before: self.frame != b, "a frame step")

    def _to_page(self, fx: float, fy: float):
        box = self.page.locator("#prompt-canvas").bounding_box()
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    def _prompt(self, action) -> dict:
        """Runs a click or drag; -> the prompt the page sent ({frameIdx, objId, points, box})."""
        before = int(self.data("prompts") or 0)
        runs = int(self.data("runs") or 0)
        action()
        self.wait_until(
            lambda: int(self.data("prompts") or 0) > before or self.data("error"), "the prompt"
        )
        assert not self.data("error"), self.data("error")
        self.page.wait_for_timeout(100)
        if self.data("tracking") == "true":  # a correction re-propagates
            self.wait_until(lambda: int(self.data("runs") or 0) > runs, "the re-propagation")
        return json.loads(self.data("lastPrompt"))

    def click(self, fx: float, fy: float, negative: bool = False) -> dict:
        x, y = self._to_page(fx, fy)

        def act():
            if negative:
                self.page.keyboard.down("Alt")
            self.page.mouse.click(x, y)
            if negative:
                self.page.keyboard.up("Alt")

        return self._prompt(act)

    def drag_box(self, fx0, fy0, fx1, fy1) -> dict:
        x0, y0 = self._to_page(fx0, fy0)
        x1, y1 = self._to_page(fx1, fy1)

        def act():
            self.page.mouse.move(x0, y0)
            self.page.mouse.down()
            self.page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=3)
            self.page.mouse.move(x1, y1, steps=3)
            self.page.mouse.up()

        return self._prompt(act)

    def undo(self) -> dict:
        """Ctrl+Z: the current object's last prompt on this frame taken back; -> what is left."""
        self.page.locator("#stage").hover()
        return self._prompt(lambda: self.page.keyboard.press("Control+z"))

    def redo(self, key: str = "Control+Shift+z") -> dict:
        """Ctrl+Shift+Z (or Ctrl+Y): the last undone prompt put back; -> the prompt sent."""
        self.page.locator("#stage").hover()
        return self._prompt(lambda: self.page.keyboard.press(key))

    def pause_after(self, frames_done: int):
        """Waits for a propagation to have masks on `frames_done` frames, then presses Pause and
        waits for the run to end at a frame boundary."""
        self.wait_until(lambda: int(self.data("tracked") or 0) >= frames_done, "frames to track")
        runs = int(self.data("runs") or 0)
        self.page.click("#track-pause")
        self.wait_until(lambda: int(self.data("runs") or 0) > runs, "the pause")

    def new_object(self):
        n = int(self.data("objects"))
        self.page.click("#new-object")
        self.wait_until(lambda: int(self.data("objects")) == n + 1, "a new object")

    def track(self, direction: str, wait: bool = True) -> float:
        """Presses Forward/Backward/Both/Resume and waits for the run to end (wait=False: until
        it started); -> seconds it took."""
        runs = int(self.data("runs") or 0)
        t0 = time.perf_counter()
        self.page.click(f"#track-{direction}")
        if wait:
            self.wait_until(lambda: int(self.data("runs") or 0) > runs, f"tracking {direction}")
        else:
            self.wait_until(lambda: self.data("tracking") == "true", f"tracking {direction}")
        return time.perf_counter() - t0

    def download(self, button_id: str) -> bytes:
        with self.page.expect_download(timeout=self.timeout_s * 1000) as info:
            self.page.click(f"#{button_id}")
        with open(info.value.path(), "rb") as f:
            return f.read()

    def coco(self) -> dict:
        return json.loads(self.download("export-coco"))

    def png_masks(self) -> dict[int, np.ndarray]:
        """The PNG zip: frame -> (H, W) uint8 object ids."""
        out = {}
        with zipfile.ZipFile(io.BytesIO(self.download("export-png"))) as z:
            for name in z.namelist():
                img = Image.open(io.BytesIO(z.read(name)))
                assert img.mode == "P", name
                out[int(name.split("/")[-1][:-4])] = np.asarray(img)
        return out


def coco_masks(doc: dict) -> dict[tuple[int, int], np.ndarray]:
    """(frame, track id) -> (H, W) bool, decoded with pycocotools; frames with no annotation
    for an object are absent (empty there)."""
    from pycocotools import mask as mask_utils

    frames = {im["id"]: im["frame_index"] for im in doc["images"]}
    out = {}
    for a in doc["annotations"]:
        rle = {"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode()}
        out[(frames[a["image_id"]], a["track_id"])] = mask_utils.decode(rle).astype(bool)
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
