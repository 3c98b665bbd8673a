"""Shared fixtures: bundles exported once per session from the official SAM2 architecture."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from sam2web.export.models import TEST_MODEL_ID as TEST_MODEL
from sam2web.export.photos import real_photos


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    return real_photos()


@pytest.fixture(scope="session")
def test_torch_model():
    """The reduced SAM2.1 model with seeded random weights (what the exporter builds)."""
    import torch

    from sam2web.export.checkpoint import build_model
    from sam2web.export.models import get_spec

    torch.manual_seed(0)
    return build_model(get_spec(TEST_MODEL))


@pytest.fixture(scope="session")
def checkpoint_file(tmp_path_factory, test_torch_model) -> Path:
    """A checkpoint in the official layout ({'model': state_dict}) with non-default weights,
    standing in for a fine-tuned checkpoint of the test architecture."""
    import torch

    torch.manual_seed(1)
    state = {
        k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
        for k, v in test_torch_model.state_dict().items()
    }
    path = tmp_path_factory.mktemp("ckpt") / "finetuned_test.pt"
    torch.save({"model": state}, path)
    return path


@pytest.fixture(scope="session")
def exported(tmp_path_factory, checkpoint_file):
    """fp32/fp16/int8 bundles of the test model from `checkpoint_file`, verified at export."""
    from sam2web.export.bundle import export_bundles

    out = tmp_path_factory.mktemp("bundles")
    results = export_bundles(
        TEST_MODEL,
        out,
        checkpoint=checkpoint_file,
        precisions=("fp32", "fp16", "int8"),
        log=lambda m: None,
        verify_video=False,  # the video graphs' parity has its own tests (test_video.py)
    )
    return {r.precision: r for r in results}


@pytest.fixture(scope="session")
def fp32_bundle(exported) -> Path:
    return exported["fp32"].path


@pytest.fixture(scope="session")
def seed0_bundles(tmp_path_factory) -> dict[str, Path]:
    """What `sam2web export --model sam2.1-hiera-test --random-weights --precision fp32
    --precision fp16 --precision int8 --no-verify` writes: seed-0 weights (`test_torch_model`'s),
    image and video graphs. Exported once for every module that reads them and never writes."""
    from sam2web.export.bundle import export_bundles

    out = tmp_path_factory.mktemp("seed0")
    results = export_bundles(
        TEST_MODEL, out, precisions=("fp32", "fp16", "int8"), verify=False, log=lambda m: None
    )
    return {r.precision: r.path for r in results}


@pytest.fixture(scope="session")
def informative_video_bundle(tmp_path_factory, test_torch_model) -> Path:
    """The test model with weights that make tracking informative (video_verify.informative:
    neither every mask empty nor every frame occluded), fp32, image and video graphs."""
    from sam2web.export.video_verify import export_informative_test_bundle

    return export_informative_test_bundle(
        tmp_path_factory.mktemp("video-bundles"), test_torch_model
    )


@pytest.fixture(scope="session")
def finetuned_torch_model(checkpoint_file):
    from sam2web.export.checkpoint import build_model, load_checkpoint
    from sam2web.export.models import get_spec

    spec = get_spec(TEST_MODEL)
    model = build_model(spec)
    load_checkpoint(model, spec, checkpoint_file)
    return model


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, photos) -> Path:
    """The full-size SAM2.1 tiny architecture (random weights), verified against PyTorch."""
    from sam2web.export.bundle import export_bundles

    subset = {k: photos[k] for k in ("astronaut", "coffee", "rocket-portrait")}
    out = tmp_path_factory.mktemp("tiny")
    return export_bundles(
        "sam2.1-hiera-tiny", out, photos=subset, log=lambda m: None, verify_video=False
    )[0].path


@pytest.fixture
def make_bundle():
    """make(directory, bundle_id, version=2, **keys): a small bundle whose files are made-up
    bytes with their true sizes and sha256 (the store checks those; it never runs the graphs).
    `keys` replace top-level manifest keys; a key given as None is dropped."""

    def make(directory: Path, bundle_id: str = "fake-model-fp32", version: int = 2, **keys) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        files = {}
        for role in ("encoder", "decoder"):
            data = f"{bundle_id} {role} ".encode() * 64
            (directory / f"{role}.onnx").write_bytes(data)
            files[role] = {
                "path": f"{role}.onnx",
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        manifest = {
            "format": "sam2web-bundle",
            "format_version": version,
            "id": bundle_id,
            "family": "sam2",
            "capabilities": ["image"],
            "model_id": "fake",
            "size": "tiny",
            "precision": "fp32",
            "input_size": 1024,
            "mean": [0.485, 0.456, 0.406],
            "std": [0.229, 0.224, 0.225],
            "mask_threshold": 0.0,
            "files": files,
        }
        if version == 1:
            del manifest["capabilities"]
        manifest.update(keys)
        manifest = {k: v for k, v in manifest.items() if v is not None}
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return directory

    return make
