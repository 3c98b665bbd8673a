"""The SAM2 / SAM2.1 model family: ids, official configs and official checkpoint addresses."""

from __future__ import annotations

from dataclasses import dataclass, field

_BASE_URL_SAM2 = "https://dl.fbaipublicfiles.com/segment_anything_2/072824"
_BASE_URL_SAM21 = "https://dl.fbaipublicfiles.com/segment_anything_2/092824"

TEST_MODEL_ID = "sam2.1-hiera-test"

# The reduced test model: same architecture and code path as sam2.1 tiny, with a tiny Hiera trunk
# (8 channels, one block per stage) so its encoder runs in well under a second on a CPU.
_TEST_OVERRIDES = [
    "model.image_encoder.trunk.embed_dim=8",
    "model.image_encoder.trunk.num_heads=1",
    "model.image_encoder.trunk.stages=[1,1,2,1]",
    "model.image_encoder.trunk.global_att_blocks=[3]",
    "model.image_encoder.neck.backbone_channel_list=[64,32,16,8]",
    "model.memory_attention.num_layers=1",
]


@dataclass(frozen=True)
class ModelSpec:
    model_id: str
    version: str  # "2" or "2.1"
    size: str  # tiny | small | base_plus | large | test
    config: str  # path inside the official sam2 package
    checkpoint_url: str | None
    overrides: list[str] = field(default_factory=list)


def _spec(version: str, size: str, letter: str, overrides=None, url=True) -> ModelSpec:
    prefix = "sam2" if version == "2" else "sam2.1"
    base = _BASE_URL_SAM2 if version == "2" else _BASE_URL_SAM21
    model_id = f"{prefix}-hiera-{size.replace('_', '-')}"
    return ModelSpec(
        model_id=model_id,
        version=version,
        size=size,
        config=f"configs/{prefix}/{prefix}_hiera_{letter}.yaml",
        checkpoint_url=f"{base}/{prefix}_hiera_{size}.pt" if url else None,
        overrides=list(overrides or []),
    )


MODELS: dict[str, ModelSpec] = {
    s.model_id: s
    for s in [
        _spec(v, size, letter)
        for v in ("2", "2.1")
        for size, letter in (("tiny", "t"), ("small", "s"), ("base_plus", "b+"), ("large", "l"))
    ]
    + [_spec("2.1", "test", "t", overrides=_TEST_OVERRIDES, url=False)]
}

# Exactly what the official `build_sam2(apply_postprocessing=True)` adds for image prediction.
POSTPROCESSING_OVERRIDES = [
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
    "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
]


def get_spec(model_id: str) -> ModelSpec:
    from sam2web.errors import Sam2WebError

    try:
        return MODELS[model_id]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise Sam2WebError(f"unknown model '{model_id}'. Known models: {known}") from None
