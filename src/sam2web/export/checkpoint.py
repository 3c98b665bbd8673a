"""Build an official SAM2 model and load a checkpoint into it, explaining every mismatch."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from sam2web.errors import BadCheckpointError, Sam2WebError
from sam2web.export.models import POSTPROCESSING_OVERRIDES, ModelSpec


def build_model(spec: ModelSpec):
    """Instantiate the official architecture for `spec` (random weights), in eval mode."""
    import sam2  # noqa: F401  (initialises hydra's config module, as the official builder expects)
    from hydra import compose
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = compose(config_name=spec.config, overrides=spec.overrides + POSTPROCESSING_OVERRIDES)
    OmegaConf.resolve(cfg)
    model = instantiate(cfg.model, _recursive_=True)
    return model.eval()


def read_state_dict(path: Path) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise BadCheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise BadCheckpointError(f"checkpoint is empty (0 bytes): {path}")
    try:
        try:  # memory-map the zip format, so even `large` costs little RAM to load
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt/truncated archives
        raise BadCheckpointError(
            f"cannot read checkpoint {path}: not a PyTorch checkpoint, or corrupt/truncated "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        ) from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        raise BadCheckpointError(
            f"checkpoint {path} holds no SAM2 state dict (expected a dict of tensors, "
            "or {'model': state_dict} as the official checkpoints are saved)"
        )
    return state


def _examples(items: list[str], n: int = 5) -> str:
    shown = ", ".join(items[:n])
    return shown + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def load_checkpoint(model, spec: ModelSpec, path: Path, state: dict | None = None) -> None:
    """Load `path` into `model`; a checkpoint of another architecture is explained key by key."""
    state = read_state_dict(path) if state is None else state
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{k}: checkpoint {list(state[k].shape)} vs {spec.model_id} {list(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            parts.append(f"{len(mismatched)} tensors differ in shape ({_examples(mismatched, 3)})")
        if missing:
            parts.append(f"{len(missing)} keys missing from the checkpoint ({_examples(missing)})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys ({_examples(unexpected)})")
        raise BadCheckpointError(
            f"checkpoint {path} does not fit model {spec.model_id}: "
            + "; ".join(parts)
            + ". Check that --model names the architecture this checkpoint was trained with."
        )
    model.load_state_dict(state, strict=True)


def default_checkpoint_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("SAM2WEB_CHECKPOINTS", user_cache_dir("sam2web"))) / "checkpoints"


def download_checkpoint(
    spec: ModelSpec, dest_dir: Path | None = None, url: str | None = None
) -> Path:
    """Download the official checkpoint of `spec` (resuming a partial download) and return its path.

    SAM2WEB_CHECKPOINT_BASE_URL replaces the official host (mirrors, air-gapped setups, tests).
    """
    from tqdm import tqdm

    if url is None:
        if spec.checkpoint_url is None:
            raise Sam2WebError(f"{spec.model_id} has no official checkpoint; pass --checkpoint")
        url = spec.checkpoint_url
        base = os.environ.get("SAM2WEB_CHECKPOINT_BASE_URL")
        if base:
            url = base.rstrip("/") + "/" + url.rsplit("/", 1)[1]
    dest_dir = Path(dest_dir or default_checkpoint_dir())
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / url.rsplit("/", 1)[1]
    if target.is_file():
        return target
    partial = target.with_name(target.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if have and response.status != 206:  # server ignored the range: start over
                have = 0
            total = response.headers.get("Content-Length")
            total = int(total) + have if total is not None else None
            with (
                open(partial, "ab" if have else "wb") as out,
                tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=target.name) as bar,
            ):
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    bar.update(len(chunk))
    except (urllib.error.URLError, OSError) as exc:
        raise Sam2WebError(
            f"could not download {url} ({exc}); the partial file is kept at {partial} and the "
            "next attempt resumes it. Or download the checkpoint yourself and pass --checkpoint"
        ) from None
    if total is not None and partial.stat().st_size != total:
        raise Sam2WebError(f"download of {url} ended early; run the command again to resume")
    partial.replace(target)
    return target
