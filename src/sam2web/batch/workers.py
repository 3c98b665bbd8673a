"""What one batch worker does: the model's ONNX Runtime sessions made once per worker, then one
input file at a time, its outputs written into a staging folder with the single-file commands'
own code (cli_everything.segment_everything, predict.image.best_mask, track_run and
track_outputs' writers), so a batch's masks are those of `sam2web segment` / `sam2web track`.

A file that cannot be processed (corrupt, unreadable, prompts outside it) gives a result with the
reason instead of an exception: the batch goes on. `Worker` is the callable class Ray Data's
map_batches runs in each actor (jobs.py); each row is one task as JSON.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from sam2web.errors import Sam2WebError

GPU_PROVIDERS = ("CUDAExecutionProvider", "ROCMExecutionProvider", "DmlExecutionProvider")
COCO_FILE = "masks.json"  # segment's per-file COCO (the name `segment --all --out` is given)
PNG_DIR = "masks"  # segment's per-mask PNGs (as `segment --all --png-dir`)


def pick_providers(device: str) -> list[str]:
    """ONNX Runtime providers for device "auto" (a GPU provider where ONNX Runtime has one),
    "gpu" (one is required) or "cpu"."""
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    gpu = [p for p in GPU_PROVIDERS if p in ort.get_available_providers()]
    if device == "gpu" and not gpu:
        raise Sam2WebError(
            "--device gpu: this ONNX Runtime has no GPU provider (install onnxruntime-gpu); "
            f"it has {', '.join(ort.get_available_providers())}"
        )
    return [*gpu[:1], "CPUExecutionProvider"]


class Worker:
    """config: command ("segment" | "track"), bundle (the bundle folder), mode ("all" |
    "prompts", segment), settings (AutomaticMaskGenerator's, with --all), png (segment: PNG per
    mask), formats (track), device, threads (intra-op threads per session; None: ORT's choice)."""

    def __init__(self, config: dict):
        from sam2web.manifest import read_manifest

        self.config = config
        self.manifest = read_manifest(config["bundle"])
        providers = pick_providers(config.get("device", "auto"))
        threads = config.get("threads")
        if config["command"] == "track":
            from sam2web.predict.video import VideoPredictor

            self.predictor = VideoPredictor.from_bundle(
                config["bundle"], providers=providers, threads=threads
            )
        else:
            from sam2web.predict.image import Predictor

            self.predictor = Predictor(self.manifest, providers=providers, threads=threads)
            self.generator = None
            if config["mode"] == "all":
                from sam2web.predict.automatic import AutomaticMaskGenerator

                self.generator = AutomaticMaskGenerator(
                    self.predictor, output_mode="uncompressed_rle", **config["settings"]
                )
        self.providers = providers

    def __call__(self, batch: dict) -> dict:
        results = [json.dumps(self.process(json.loads(str(task)))) for task in batch["task"]]
        return {"result": np.array(results, dtype=object)}

    def process(self, task: dict) -> dict:
        """task: key, path (the input), staging (a new folder for its outputs), prompts.
        -> {key, ok, outputs (relative to staging) | reason, seconds, ...}."""
        started = time.perf_counter()
        staging = Path(task["staging"])
        try:
            staging.mkdir(parents=True)
            if self.config["command"] == "track":
                info = self._track(Path(task["path"]), staging, task["prompts"])
            elif self.config["mode"] == "all":
                info = self._everything(Path(task["path"]), staging)
            else:
                info = self._prompted(Path(task["path"]), staging, task["prompts"])
        except Exception as exc:  # a bad file never stops the batch: it is reported
            shutil.rmtree(staging, ignore_errors=True)
            reason = str(exc) if isinstance(exc, Sam2WebError) else f"{type(exc).__name__}: {exc}"
            return {"key": task["key"], "ok": False, "reason": reason}
        outputs = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*"))
        return {
            "key": task["key"],
            "ok": True,
            "staging": str(staging),
            "outputs": outputs,
            "seconds": round(time.perf_counter() - started, 4),
            "provider": self.providers[0],
            **info,
        }

    def _everything(self, path: Path, staging: Path) -> dict:
        from sam2web.cli_everything import segment_everything

        summary = segment_everything(
            path,
            self.manifest,
            staging / COCO_FILE,
            staging / PNG_DIR if self.config.get("png", True) else None,
            self.config["settings"],
            True,
            lambda: None,
            generator=self.generator,
        )
        return {"masks": summary["masks"], "width": summary["width"], "height": summary["height"]}

    def _prompted(self, path: Path, staging: Path, prompts: dict | None) -> dict:
        from sam2web.atomic import write_bytes_atomic
        from sam2web.formats.coco import coco_document
        from sam2web.formats.objects import ImageAnnotations, LabelledMask
        from sam2web.images import load_image
        from sam2web.masks import save_mask_png
        from sam2web.predict.image import best_mask

        if prompts is None:
            raise Sam2WebError("no prompts for it in the prompts file")
        rgb = load_image(path)
        self.predictor.set_image(rgb)
        image = ImageAnnotations(path.name, int(rgb.shape[1]), int(rgb.shape[0]))
        for i, obj in enumerate(prompts["objects"], start=1):
            mask, score = best_mask(self.predictor, obj["points"], obj["labels"], obj["box"])
            image.objects.append(LabelledMask("object", mask, round(score, 4)))
            if self.config.get("png", True):
                save_mask_png(mask, staging / PNG_DIR / f"mask_{i:04d}.png")
        document = coco_document([image])
        document["info"] = {"description": "sam2web batch segment", "model": self.manifest.id}
        write_bytes_atomic(staging / COCO_FILE, (json.dumps(document) + "\n").encode())
        return {"masks": len(image.objects), "width": image.width, "height": image.height}

    def _track(self, path: Path, staging: Path, prompts: dict | None) -> dict:
        from sam2web import track_run
        from sam2web.predict.track_outputs import open_writers, write_tracks
        from sam2web.predict.video_frames import open_video

        if prompts is None:
            raise Sam2WebError("no prompts for it in the prompts file")
        groups = {
            (o["obj_id"], o["frame"]): {k: o[k] for k in ("points", "labels", "box")}
            for o in prompts["objects"]
        }
        frames = open_video(path)
        try:
            start, _ = track_run.plan(
                frames, groups, prompts["start"], prompts["end"], prompts["reverse"]
            )
            results = track_run.propagate(
                self.predictor, frames, groups, start, prompts["end"], prompts["reverse"]
            )
            writers = open_writers(
                staging,
                self.config["formats"],
                height=frames.height,
                width=frames.width,
                fps=frames.fps,
                video=path.name,
                num_frames=len(frames),
                model=self.manifest.id,
            )
            done = write_tracks(results, writers, frames)
        finally:
            frames.close()
        return {"frames": done, "width": frames.width, "height": frames.height}
