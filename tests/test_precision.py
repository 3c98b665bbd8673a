"""Reduced precisions against fp32 (issue 12): int8 masks within IoU 0.97 of fp32, fp16w (fp16
weights, fp32 arithmetic) equal to fp32 within float noise, both at most half the download.

A case is judged when the bar can judge it: its fp32 mask has at least 34 px (below that one
flipped pixel already costs more than 3%) and fp32's own mask keeps IoU >= 0.97 when the prompt
moves by one pixel of the model's 1024x1024 input (otherwise noise decides it at any precision).
benchmarks/precision_fidelity.py measures the same on more photos, models and the video graphs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from sam2web.export.bundle import derive_precision, export_bundles
from sam2web.export.quantize import FP16_STORAGE_MIN_ELEMENTS, INT8_RECIPE
from sam2web.export.verify import mask_iou
from sam2web.manifest import read_manifest
from sam2web.predict.predictor import Predictor

BAR = 0.97
SMALLEST_JUDGED = 34  # px


def small_images(photos) -> dict[str, np.ndarray]:
    """The issue's weak case: 128x128 images (whole photos resized, so every object is small)."""
    small = lambda a: np.asarray(Image.fromarray(a).resize((128, 128), Image.BICUBIC))  # noqa: E731
    return {f"{k}-128": small(photos[k]) for k in ("astronaut", "coffee")}


def prompt_cases(h: int, w: int) -> dict[str, dict]:
    p = lambda fx, fy: [w * fx, h * fy]  # noqa: E731
    box = [w * 0.25, h * 0.2, w * 0.75, h * 0.8]
    cases = {
        f"point {fx},{fy}": dict(points=[p(fx, fy)], labels=[1], multimask=True)
        for fx, fy in ((0.5, 0.5), (0.3, 0.6), (0.7, 0.3), (0.6, 0.7), (0.25, 0.25))
    }
    cases["point+negative"] = dict(points=[p(0.5, 0.5), p(0.2, 0.25)], labels=[1, 0])
    cases["two points"] = dict(points=[p(0.5, 0.5), p(0.6, 0.4)], labels=[1, 1])
    cases["box"] = dict(box=box)
    cases["box+point"] = dict(box=box, points=[p(0.55, 0.45)], labels=[1])
    return cases


def _nudged(case: dict, dx: float, dy: float) -> dict:
    out = dict(case)
    if "points" in case:
        out["points"] = [[x + dx, y + dy] for x, y in case["points"]]
    if "box" in case:
        out["box"] = [v + (dx, dy)[i % 2] for i, v in enumerate(case["box"])]
    return out


def compare(reference: Predictor, other: Predictor, images: dict) -> list[dict]:
    """Every image x case: IoU (lowest over the masks returned), the fp32 mask's area and fp32's
    own IoU under a one-input-pixel nudge of the prompt."""
    rows = []
    for name, image in images.items():
        h, w = image.shape[:2]
        reference.set_image(image)
        other.set_image(image)
        step_x, step_y = w / reference.input_size, h / reference.input_size
        for case_name, case in prompt_cases(h, w).items():
            case = {"multimask": False, **case}
            ref, got = reference.predict(**case).masks, other.predict(**case).masks
            ious = [mask_iou(a, b) for a, b in zip(ref, got, strict=True)]
            nudge = min(
                mask_iou(a, b)
                for dx, dy in ((step_x, 0), (-step_x, 0), (0, step_y), (0, -step_y))
                for a, b in zip(ref, reference.predict(**_nudged(case, dx, dy)).masks, strict=True)
            )
            worst = int(np.argmin(ious))
            rows.append(
                {
                    "case": f"{name} / {case_name}",
                    "iou": round(min(ious), 4),
                    "area": int(ref[worst].sum()),
                    "nudge": round(nudge, 4),
                }
            )
    return rows


def judged(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["area"] >= SMALLEST_JUDGED and r["nudge"] >= BAR]


@pytest.fixture(scope="module")
def bundles(seed0_bundles) -> dict[str, Path]:
    """What `sam2web export --model sam2.1-hiera-test --random-weights --precision fp32
    --precision int8 --no-verify` writes: the reduced SAM2.1 configuration, seed-0 weights."""
    return seed0_bundles


# -- int8 ----------------------------------------------------------------------------------------


def test_int8_masks_match_fp32_on_128x128_images(bundles, photos):
    """The issue's case: a click on a small image. The previous recipe (every MatMul int8, the
    rest fp32) gave IoU 0.945 here (coffee-128, click at 0.25,0.25: a 3503 px mask that fp32
    itself keeps at 0.983 when the click moves by 1/8 px); this one 0.991."""
    fp32 = Predictor.from_bundle(bundles["fp32"])
    int8 = Predictor.from_bundle(bundles["int8"])
    rows = compare(fp32, int8, small_images(photos))
    ok = judged(rows)
    print("int8 vs fp32 on 128x128:", sorted((r["iou"], r["case"]) for r in rows)[:4])
    assert len(ok) >= 0.6 * len(rows), rows  # the bar can judge most cases
    assert min(r["iou"] for r in ok) >= BAR, [r for r in ok if r["iou"] < BAR]


def test_int8_keeps_small_matrices_float_and_is_at_most_half_of_fp32(bundles):
    """The previous recipe left every non-MatMul weight fp32: 0.67 of fp32's bytes here."""
    fp32, int8 = read_manifest(bundles["fp32"]), read_manifest(bundles["int8"])
    # The whole bundle (image and video graphs) and what the app downloads (the image graphs).
    assert int8.total_bytes() <= 0.5 * fp32.total_bytes()
    image = lambda m: m.files["encoder"].bytes + m.files["decoder"].bytes  # noqa: E731
    assert image(int8) <= 0.5 * image(fp32)
    for role, entry in int8.files.items():
        if not entry.path.endswith(".onnx"):
            continue
        graph = onnx.load(str(int8.path_of(role))).graph
        inits = {i.name: i for i in graph.initializer}
        nbits = [n for n in graph.node if n.op_type == "MatMulNBits"]
        for node in nbits:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs["bits"] == 8 and attrs["block_size"] == INT8_RECIPE.block_size
            assert attrs["K"] * attrs["N"] >= INT8_RECIPE.min_elements, (role, attrs)
        # Every other large float tensor is stored fp16 and read through a Cast to fp32.
        casts = {n.input[0] for n in graph.node if n.op_type == "Cast"}
        scales = {n.input[2] for n in nbits}
        for init in inits.values():
            if np.prod(init.dims) >= FP16_STORAGE_MIN_ELEMENTS and init.name not in scales:
                assert init.data_type in (onnx.TensorProto.UINT8, onnx.TensorProto.INT64) or (
                    init.data_type == onnx.TensorProto.FLOAT16 and init.name in casts
                ), (role, init.name, init.data_type)
    decoder_ops = {n.op_type for n in onnx.load(str(int8.path_of("decoder"))).graph.node}
    assert "MatMulNBits" in decoder_ops  # the decoder's MLPs


def test_int8_tracking_matches_fp32(bundles):
    """The video graphs (memory attention, memory encoder, video decoder) in int8: per-frame
    masks of two objects on a real clip against the fp32 bundle's tracking."""
    from sam2web.export.video_verify import compare_runs, default_clip, default_script, run_ours
    from sam2web.predict.video import VideoPredictor

    clip = default_clip()
    script = default_script(*clip[0].shape[:2], tracked=4)
    runs = []
    for precision in ("fp32", "int8"):
        predictor = VideoPredictor.from_bundle(bundles[precision])
        outputs, state = run_ours(predictor, clip, script)
        state.close()
        runs.append(outputs)
    parity = compare_runs(*runs)
    print("int8 tracking vs fp32:", parity["mask_iou_min"], parity["mask_iou_mean"])
    assert parity["outputs"] == 1 + 1 + 5  # a click, a box (frame 0), then frames 0-4 tracked
    assert parity["mask_iou_min"] >= BAR, parity["detail"]


# -- fp16w: fp16 weights, fp32 arithmetic ----------------------------------------------------------


@pytest.fixture(scope="module")
def fp32_bundle(bundles) -> Path:
    return bundles["fp32"]


@pytest.fixture(scope="module")
def fp16w_bundle(fp32_bundle, tmp_path_factory) -> Path:
    return derive_precision(fp32_bundle, "fp16w", tmp_path_factory.mktemp("fp16w"))


def test_fp16w_is_half_the_bytes_and_onnxruntime_folds_it_back_to_fp32(
    fp16w_bundle, fp32_bundle, tmp_path
):
    import onnxruntime as ort

    small, full = read_manifest(fp16w_bundle), read_manifest(fp32_bundle)
    small.verify_files()
    assert small.precision == "fp16w" and small.data["derived_from"] == full.id
    assert small.total_bytes() <= 0.5 * full.total_bytes()
    for role, entry in small.files.items():
        if not entry.path.endswith(".onnx"):
            continue
        # Inputs and outputs keep their float32 signature.
        for key in ("inputs", "outputs"):
            assert entry.data[key] == full.files[role].data[key], (role, key)
        before = onnx.load(str(small.path_of(role))).graph
        assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in before.initializer)
        # What ONNX Runtime runs: its constant folding turns every Cast of an fp16 weight back
        # into an fp32 initializer at load, leaving the fp32 graph's own Casts only.
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(tmp_path / f"{role}.onnx")
        ort.InferenceSession(str(small.path_of(role)), options, providers=["CPUExecutionProvider"])
        after = onnx.load(options.optimized_model_filepath).graph
        assert not any(i.data_type == onnx.TensorProto.FLOAT16 for i in after.initializer), role
        fp32_casts = sum(n.op_type == "Cast" for n in onnx.load(str(full.path_of(role))).graph.node)
        assert sum(n.op_type == "Cast" for n in after.node) <= fp32_casts, role


def test_fp16w_masks_equal_fp32(fp16w_bundle, fp32_bundle, photos):
    fp32, fp16w = Predictor.from_bundle(fp32_bundle), Predictor.from_bundle(fp16w_bundle)
    rows = compare(fp32, fp16w, {"coffee": photos["coffee"]} | small_images(photos))
    print("fp16w vs fp32:", sorted((r["iou"], r["case"]) for r in rows)[:4])
    assert min(r["iou"] for r in judged(rows)) >= 0.99
    # Logits: weights rounded to fp16 (relative error <= 2**-11), arithmetic in fp32.
    for p in (fp32, fp16w):
        p.set_image(photos["coffee"])
    a = fp32.predict(points=[[300, 200]]).low_res_logits
    b = fp16w.predict(points=[[300, 200]]).low_res_logits
    assert np.abs(a - b).max() <= 0.02 * np.abs(a).max()


def test_models_convert_fp16w_from_the_command_line(fp32_bundle, tmp_path):
    import os
    import subprocess
    import sys

    cli = [sys.executable, "-m", "sam2web.cli"]
    env = {**os.environ, "SAM2WEB_BUILTIN": "0"}
    store = tmp_path / "store"

    def run(*args):
        proc = subprocess.run(
            [*cli, *map(str, args)], capture_output=True, text=True, env=env, timeout=600
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    run("models", "add", fp32_bundle, "--models", store, "--allow-random-weights")
    fp32_id = read_manifest(fp32_bundle).id
    printed = run("models", "convert", fp32_id, "--precision", "fp16w", "--models", store)
    fp16w_id = fp32_id.removesuffix("-fp32") + "-fp16w"
    assert f"installed {fp16w_id}" in printed and "50% of" in printed
    assert read_manifest(store / fp16w_id).precision == "fp16w"
    assert Predictor.from_bundle(store / fp16w_id)


# -- full size (slow) ------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_size_tiny_int8_matches_fp32(tmp_path_factory, photos):
    """SAM2.1 tiny (random weights): int8 against fp32 on real photos and 128x128 images, and
    tracking on a real clip."""
    from sam2web.export.video_verify import compare_runs, default_clip, default_script, run_ours
    from sam2web.predict.video import VideoPredictor

    out = tmp_path_factory.mktemp("tiny-precisions")
    paths = {
        r.precision: r.path
        for r in export_bundles(
            "sam2.1-hiera-tiny", out, precisions=("fp32", "int8"), verify=False, log=lambda m: None
        )
    }
    fp32_path, int8_path = paths["fp32"], paths["int8"]
    fp32, int8 = read_manifest(fp32_path), read_manifest(int8_path)
    assert int8.total_bytes() <= 0.5 * fp32.total_bytes()
    images = {k: photos[k] for k in ("astronaut", "coffee", "hubble")} | small_images(photos)
    rows = compare(Predictor.from_bundle(fp32_path), Predictor.from_bundle(int8_path), images)
    print("tiny int8 vs fp32:", sorted((r["iou"], r["case"]) for r in rows)[:4])
    assert min(r["iou"] for r in judged(rows)) >= BAR
    clip = default_clip()
    script = default_script(*clip[0].shape[:2], tracked=8)
    runs = []
    for path in (fp32_path, int8_path):
        outputs, state = run_ours(VideoPredictor.from_bundle(path), clip, script)
        state.close()
        runs.append(outputs)
    assert compare_runs(*runs)["mask_iou_min"] >= BAR
