"""`sam2web export`: bundle layout, manifest, precisions, parity with PyTorch, checkpoints."""

from __future__ import annotations

import json
import re

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from sam2web.errors import BadCheckpointError, Sam2WebError
from sam2web.export.bundle import export_bundles
from sam2web.export.models import TEST_MODEL_ID as TEST_MODEL
from sam2web.manifest import read_manifest, sha256_file


def test_bundle_files_and_manifest(fp32_bundle, checkpoint_file):
    manifest = read_manifest(fp32_bundle)
    data = manifest.data
    assert data["id"] == f"{TEST_MODEL}-fp32" and data["family"] == "sam2"
    assert data["sam2_version"] == "2.1" and data["precision"] == "fp32"
    assert data["input_size"] == 1024 and data["mean"] == [0.485, 0.456, 0.406]
    assert data["std"] == [0.229, 0.224, 0.225]
    assert data["random_weights"] is False
    assert data["checkpoint"]["sha256"] == sha256_file(checkpoint_file)
    assert data["exporter"]["opset"] >= 17
    for role in ("encoder", "decoder"):
        info = data["files"][role]
        path = fp32_bundle / info["path"]
        assert path.stat().st_size == info["bytes"]
        assert sha256_file(path) == info["sha256"]
        model = onnx.load(str(path))
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    enc = {o["name"]: o["shape"] for o in data["files"]["encoder"]["outputs"]}
    assert enc == {
        "image_embed": [1, 256, 64, 64],
        "high_res_feats_0": [1, 32, 256, 256],
        "high_res_feats_1": [1, 64, 128, 128],
    }
    assert data["files"]["encoder"]["inputs"] == [
        {"name": "image", "dtype": "float32", "shape": [1, 3, 1024, 1024]}
    ]
    dec_in = [o["name"] for o in data["files"]["decoder"]["inputs"]]
    assert dec_in == [
        "image_embed",
        "high_res_feats_0",
        "high_res_feats_1",
        "point_coords",
        "point_labels",
        "mask_input",
        "has_mask_input",
    ]
    dec_out = {o["name"]: o["shape"] for o in data["files"]["decoder"]["outputs"]}
    assert dec_out["masks"][1:] == [3, 256, 256] and dec_out["single_mask"][1:] == [1, 256, 256]
    assert dec_out["iou_predictions"][1:] == [3] and dec_out["single_iou"][1:] == [1]
    # The manifest's parity figures are the ones measured at export, and they pass.
    assert data["parity"]["passed"] is True
    assert data["parity"]["encoder_cosine_min"] > 0.9999
    assert set(data["parity"]["mask_iou_min"]) == {
        "point",
        "points+negative",
        "box",
        "box+point",
        "refine",
    }
    assert min(data["parity"]["mask_iou_min"].values()) >= 0.99


def test_decoder_takes_any_number_of_points(fp32_bundle):
    # One prompt set per run (batch 1: its shape arithmetic folds away, see onnx_export.py);
    # the predictor decodes several objects one after another (test_predictor's batched boxes).
    session = ort.InferenceSession(str(fp32_bundle / "decoder.onnx"))
    encoder = ort.InferenceSession(str(fp32_bundle / "encoder.onnx"))
    feats = encoder.run(None, {"image": np.zeros((1, 3, 1024, 1024), np.float32)})
    for points in (1, 3, 7):
        masks, iou, single, single_iou = session.run(
            None,
            {
                "image_embed": feats[0],
                "high_res_feats_0": feats[1],
                "high_res_feats_1": feats[2],
                "point_coords": np.full((1, points, 2), 300, np.float32),
                "point_labels": np.ones((1, points), np.float32),
                "mask_input": np.zeros((1, 1, 256, 256), np.float32),
                "has_mask_input": np.zeros(1, np.float32),
            },
        )
        assert masks.shape == (1, 3, 256, 256) and iou.shape == (1, 3)
        assert single.shape == (1, 1, 256, 256) and single_iou.shape == (1, 1)


def test_graphs_use_fused_attention_and_static_shapes(fp32_bundle):
    import onnx

    for name in ("encoder.onnx", "decoder.onnx"):
        graph = onnx.load(str(fp32_bundle / name)).graph
        ops = [n.op_type for n in graph.node]
        assert ops.count("MultiHeadAttention") >= 3, name
    # Every decoder attention is fused; in the encoder the global 4096x4096 blocks stay plain
    # (see fused_attention.py).
    assert "Softmax" not in ops
    inputs = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in graph.input
    }
    assert inputs["point_coords"] == [1, "num_points", 2]
    assert inputs["image_embed"][0] == 1 and inputs["mask_input"][0] == 1
    # The stability score counts pixels in float: an int64 ReduceSum has no WebGPU kernel, runs on
    # the CPU and rules out graph capture.
    typed = onnx.shape_inference.infer_shapes(onnx.load(str(fp32_bundle / "decoder.onnx")))
    types = {
        v.name: v.type.tensor_type.elem_type
        for v in [*typed.graph.value_info, *typed.graph.input, *typed.graph.output]
    }
    reduce_inputs = [n.input[0] for n in typed.graph.node if n.op_type == "ReduceSum"]
    assert reduce_inputs and all(types[i] == onnx.TensorProto.FLOAT for i in reduce_inputs)


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_reduced_precisions_are_verified_and_smaller(exported, precision):
    result = exported[precision]
    data = read_manifest(result.path).data
    assert data["precision"] == precision and data["parity"]["passed"] is True
    for row in data["parity"]["detail"]:
        # every case matches, or it is a stability tie whose candidate masks all match
        assert row["iou"] >= 0.95 or row["candidates_iou"] >= 0.99, row
    fp32 = read_manifest(exported["fp32"].path)
    # The decoder dominates the test model's bytes; both conversions must shrink it a lot.
    assert data["files"]["decoder"]["bytes"] < 0.6 * fp32.files["decoder"].bytes
    graph = onnx.load(str(result.path / "decoder.onnx")).graph
    ops = {n.op_type for n in graph.node}
    if precision == "int8":
        assert "MatMulNBits" in ops
    else:
        floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)
        weights = [i for i in graph.initializer if len(i.dims) >= 2 and i.data_type in floats]
        assert weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    # Inputs and outputs stay float32 so callers do not change per precision.
    assert {o["dtype"] for o in data["files"]["decoder"]["inputs"]} == {"float32"}


def test_verification_fails_loudly_and_keeps_the_bundle_aside(tmp_path, photos):
    # A checkpoint exported with --random-weights but checked against a differently seeded model
    # is the simplest real mismatch: verify the fp32 graph of one model against another model.
    import torch

    from sam2web.export import bundle as bundle_mod
    from sam2web.export.checkpoint import build_model
    from sam2web.export.models import get_spec
    from sam2web.export.verify import official_predictor
    from sam2web.predict.predictor import Predictor

    torch.manual_seed(123)
    other = build_model(get_spec(TEST_MODEL))
    good = export_bundles(TEST_MODEL, tmp_path, verify=False, video=False, log=lambda m: None)
    good = good[0].path
    parity, ok = bundle_mod._verify(
        official_predictor(other), good, dict(list(photos.items())[:2]), "fp32", lambda m: None
    )
    assert not ok and parity["passed"] is False
    assert min(parity["mask_iou_min"].values()) < 0.99
    assert Predictor.from_bundle(good)  # the bundle itself is untouched


def test_existing_bundle_is_not_overwritten(tmp_path):
    first = export_bundles(TEST_MODEL, tmp_path, verify=False, video=False, log=lambda m: None)
    first = first[0].path
    before = sha256_file(first / "encoder.onnx")
    with pytest.raises(Sam2WebError, match="already exists"):
        export_bundles(TEST_MODEL, tmp_path, verify=False, video=False, log=lambda m: None)
    assert sha256_file(first / "encoder.onnx") == before
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temp dirs left behind


def test_missing_corrupt_and_truncated_checkpoints(tmp_path, checkpoint_file):
    with pytest.raises(BadCheckpointError, match="not found"):
        export_bundles(TEST_MODEL, tmp_path / "o", checkpoint=tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"this is not a checkpoint" * 100)
    with pytest.raises(BadCheckpointError, match="corrupt/truncated"):
        export_bundles(TEST_MODEL, tmp_path / "o", checkpoint=junk)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint_file.read_bytes()[: checkpoint_file.stat().st_size // 2])
    with pytest.raises(BadCheckpointError, match="corrupt/truncated"):
        export_bundles(TEST_MODEL, tmp_path / "o", checkpoint=truncated)
    assert not (tmp_path / "o").exists()  # failed before anything was written


def test_checkpoint_of_another_architecture_names_the_differences(tmp_path, checkpoint_file):
    with pytest.raises(BadCheckpointError) as info:
        export_bundles(
            "sam2.1-hiera-tiny",
            tmp_path,
            checkpoint=checkpoint_file,
            verify=False,
            log=lambda m: None,
        )
    message = str(info.value)
    assert "does not fit model sam2.1-hiera-tiny" in message
    assert re.search(
        r"\d+ tensors differ in shape \(image_encoder\.\S+: checkpoint \[[\d, ]+\] "
        r"vs sam2\.1-hiera-tiny \[[\d, ]+\]",
        message,
    ), message
    assert "missing from the checkpoint" in message
    assert list(tmp_path.iterdir()) == []


def test_manifest_is_json_with_every_declared_field(fp32_bundle):
    data = json.loads((fp32_bundle / "manifest.json").read_text())
    for key in (
        "id",
        "model_id",
        "sam2_version",
        "precision",
        "input_size",
        "mean",
        "std",
        "files",
        "exporter",
        "parity",
        "checkpoint",
    ):
        assert key in data
