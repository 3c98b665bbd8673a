"""Drives the real app page the way a person does: files, clicks, drags, buttons, downloads."""

from __future__ import annotations

import io
import json
import time

import numpy as np
from PIL import Image

TIMEOUT = 240_000  # WebGPU on a CPU-only machine compiles shaders slowly on first use


class AppPage:
    def __init__(self, page, url: str, timeout_ms: int = TIMEOUT):
        self.page = page
        self.url = url
        self.timeout_ms = timeout_ms
        self.console: list[str] = []
        self.requests: list[str] = []  # URLs the page and its workers asked for
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))

    def open(self, query: str = ""):
        """Load the page and wait until its model is ready (or it says why not)."""
        self.page.goto(self.url + query)
        return self.wait_ready()

    def wait_ready(self):
        deadline = time.time() + self.timeout_ms / 1000
        while self._data("ready") != "true":
            if time.time() > deadline:
                raise TimeoutError(
                    f"the app was not ready after {self.timeout_ms / 1000:.0f} s; "
                    f"status: {self.status()!r}; progress: "
                    f"{self.page.text_content('#progress')!r}; console: {self.console}"
                )
            self.page.wait_for_timeout(100)
        return self

    def runtime_builds(self) -> set[str]:
        """Which onnxruntime-web WASM builds were fetched: 'asyncify' (WebGPU) and/or 'plain'."""
        names = {
            u.rsplit("/", 1)[-1] for u in self.requests if "/ort/" in u and u.endswith(".wasm")
        }
        return {"asyncify" if "asyncify" in n else "plain" for n in names}

    def status(self) -> str:
        return self.page.inner_text("#status")

    def badge(self) -> str:
        return self.page.inner_text("#backend-badge")

    def _data(self, key: str):
        return self.page.evaluate(f"document.body.dataset.{key} || ''")

    def _wait_change(self, key: str, before: str):
        # Polled from Python: the app's CSP (rightly) forbids the eval behind wait_for_function.
        deadline = time.time() + self.timeout_ms / 1000
        while time.time() < deadline:
            value = self._data(key)
            if value and value != before:
                return
            if "error" in (self.page.get_attribute("#status", "class") or ""):
                raise AssertionError(f"app reports: {self.status()}")
            self.page.wait_for_timeout(50)
        raise TimeoutError(f"{key} did not change; status: {self.status()}")

    def upload(self, path, input_id: str = "file-input", expect_encode: bool = True):
        before = self._data("encoded")
        self.page.set_input_files(f"#{input_id}", str(path))
        if expect_encode:
            self._wait_change("encoded", before)

    def _canvas(self):
        return self.page.locator("#prompt-canvas").bounding_box()

    def _to_page(self, fx: float, fy: float):
        b = self._canvas()
        return b["x"] + b["width"] * fx, b["y"] + b["height"] * fy

    def _after_decode(self, action):
        decoded, rendered = self._data("decoded"), self._data("rendered")
        action()
        self._wait_change("decoded", decoded)
        self._wait_change("rendered", rendered)

    def click(self, fx: float, fy: float, negative: bool = False):
        x, y = self._to_page(fx, fy)
        self._after_decode(
            lambda: self.page.mouse.click(x, y, button="right" if negative else "left")
        )

    def hover(self, fx: float, fy: float):
        x, y = self._to_page(fx, fy)
        self.page.mouse.move(x - 3, y - 3)
        self.page.mouse.move(x, y, steps=3)

    def drag_box(self, fx0, fy0, fx1, fy1):
        x0, y0 = self._to_page(fx0, fy0)
        x1, y1 = self._to_page(fx1, fy1)

        def drag():
            self.page.mouse.move(x0, y0)
            self.page.mouse.down()
            self.page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
            self.page.mouse.move(x1, y1, steps=4)
            self.page.mouse.up()

        self._after_decode(drag)

    def press(self, button_id: str):
        """Click a button that changes the masks, and wait for the redraw."""
        rendered = self._data("rendered")
        self.page.click(f"#{button_id}")
        self._wait_change("rendered", rendered)

    def click_now(self, fx: float, fy: float):
        """A click that does not wait for its mask (while decodes are held, say)."""
        x, y = self._to_page(fx, fy)
        self.page.mouse.click(x, y)

    def hold_decodes(self, hold: bool):
        """Decodes wait in the worker while held, as behind a very slow GPU."""
        self.page.evaluate("(hold) => window.sam2web.engine.holdDecodesForTesting(hold)", hold)

    def wait_until(self, predicate, what: str):
        deadline = time.time() + self.timeout_ms / 1000
        while not predicate():
            if time.time() > deadline:
                raise TimeoutError(f"{what}; status: {self.status()!r}")
            self.page.wait_for_timeout(50)

    def rename(self, index: int, name: str):
        """Double-click an object's name in the list, type a new one, Enter."""
        self.page.locator("#object-list li .name").nth(index).dblclick()
        field = self.page.locator("#object-list li input.rename")
        field.fill(name)
        field.press("Enter")
        self.wait_until(
            lambda: self.objects()[index]["name"] == name.strip(), f"rename to {name!r}"
        )

    def new_object(self):
        self.page.click("#new-object")

    def objects(self) -> list[dict]:
        items = self.page.locator("#object-list li")
        return [
            json.loads(items.nth(i).get_attribute("data-prompts")) for i in range(items.count())
        ]

    def set_threshold(self, value: float):
        rendered = self._data("rendered")
        self.page.locator("#threshold").fill(str(value))
        self._wait_change("rendered", rendered)

    def download(self, kind: str, from_script: bool = False) -> bytes:
        """from_script: click the button from script, not the mouse. After a WebGPU device is
        destroyed, headless Chromium may stop producing compositor frames (Playwright's
        actionability checks then hang) while the page itself keeps working."""
        with self.page.expect_download(timeout=self.timeout_ms) as info:
            if from_script:
                self.page.evaluate(f"() => document.getElementById('export-{kind}').click()")
            else:
                self.page.click(f"#export-{kind}")
        return open(info.value.path(), "rb").read()

    def overlay_alpha(self) -> np.ndarray:
        """The alpha channel of the drawn overlay (image-sized), as the user sees it."""
        w, h, data = self.page.evaluate("""() => {
            const c = document.getElementById('overlay-canvas');
            const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const alpha = new Array(a.length / 4);
            for (let i = 0; i < alpha.length; i++) alpha[i] = a[i * 4 + 3];
            return [c.width, c.height, alpha];
        }""")
        return np.asarray(data, np.uint8).reshape(h, w)

    def mask(self, from_script: bool = False) -> np.ndarray:
        png = self.download("mask", from_script)
        return np.asarray(Image.open(io.BytesIO(png)).convert("L")) > 127


def wait_for_text(page, selector: str, text: str, timeout_s: float = 60) -> str:
    """Poll an element until it contains `text` (no eval-based waits under the app's CSP);
    returns its final text either way, for the caller's assertion to show."""
    deadline = time.time() + timeout_s
    while True:
        current = page.inner_text(selector)
        if text in current or time.time() > deadline:
            return current
        page.wait_for_timeout(100)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
