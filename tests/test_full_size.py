"""The full-size SAM2.1 tiny architecture through export, verification and the predictor."""

from __future__ import annotations

from sam2web.manifest import read_manifest


def test_full_size_tiny_exports_and_matches_pytorch(tiny_bundle):
    data = read_manifest(tiny_bundle).data
    assert data["size"] == "tiny" and data["random_weights"] is True
    assert data["parity"]["passed"] and min(data["parity"]["mask_iou_min"].values()) >= 0.99
    assert data["parity"]["encoder_cosine_min"] > 0.9999
    assert data["files"]["encoder"]["bytes"] > 100e6  # the real 27M-parameter Hiera-T trunk
