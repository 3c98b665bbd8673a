"""The local model store: installed bundles, one directory each, checked by sha256."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sam2web.builtin import builtin_bundle_dirs
from sam2web.errors import BadBundleError, Sam2WebError
from sam2web.manifest import Manifest, read_manifest

SIZE_ORDER = ["tiny", "small", "base_plus", "large"]
PRECISION_ORDER = ["fp32", "fp16", "int8"]

HOW_TO_ADD = (
    "Add a SAM2 model: export an official checkpoint with\n"
    "  sam2web export --model sam2.1-hiera-tiny --checkpoint sam2.1_hiera_tiny.pt --out bundles\n"
    "(or add --download to fetch the official checkpoint), then install it with\n"
    "  sam2web models add bundles/sam2.1-hiera-tiny-fp32"
)


def default_store_dir() -> Path:
    from platformdirs import user_cache_dir

    env = os.environ.get("SAM2WEB_MODELS")
    return Path(env) if env else Path(user_cache_dir("sam2web")) / "models"


def is_builtin(manifest: Manifest) -> bool:
    return bool(manifest.data.get("builtin"))


class ModelStore:
    """Bundles installed in `root`, plus the built-in model(s) that came with sam2web unless
    builtin=False. Installed SAM2 models always come first; the built-in one is the default only
    when nothing else with real weights is installed."""

    def __init__(self, root: str | Path | None = None, builtin: bool = True):
        self.root = Path(root) if root else default_store_dir()
        self.builtin = builtin

    def list(self) -> list[Manifest]:
        """Available bundles, best first: real weights, installed before built-in, SAM2.1 first,
        smaller, higher precision."""
        found = []
        if self.root.is_dir():
            for manifest in _readable_bundles(sorted(self.root.iterdir())):
                manifest.data.pop("builtin", None)  # only sam2web's own files are built in
                found.append(manifest)
        if self.builtin:
            ids = {m.bundle_id for m in found}
            for manifest in _readable_bundles(builtin_bundle_dirs()):
                if manifest.bundle_id not in ids:
                    manifest.data["builtin"] = True
                    found.append(manifest)
        return sorted(found, key=_preference)

    def get(self, bundle_id: str | None = None) -> Manifest:
        """The named bundle, or the default one; the message says how to add a model if none."""
        models = self.list()
        if not models:
            raise Sam2WebError(f"no models installed in {self.root}.\n{HOW_TO_ADD}")
        if bundle_id is None:
            return models[0]
        for manifest in models:
            if manifest.bundle_id == bundle_id:
                return manifest
        ids = ", ".join(m.bundle_id for m in models)
        raise Sam2WebError(f"model '{bundle_id}' is not installed (installed: {ids})")

    def add(self, bundle_dir: str | Path, allow_random_weights: bool = False,
            force: bool = False) -> Manifest:
        """Copy a bundle into the store after checking every file against its sha256."""
        source = read_manifest(bundle_dir)
        source.verify_files()
        if source.data.get("random_weights") and not allow_random_weights:
            raise Sam2WebError(
                f"{source.bundle_id} was exported with random weights (a test model) and would "
                "give meaningless masks; pass --allow-random-weights if you really want it"
            )
        target = self.root / source.bundle_id
        if target.exists() and not force:
            raise Sam2WebError(f"model '{source.bundle_id}' is already installed; "
                               "pass --force to replace it")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{source.bundle_id}-", dir=self.root))
        try:
            for info in [*source.files.values(), {"path": "manifest.json"}]:
                shutil.copy2(source.root / info["path"], staging / info["path"])
            installed = read_manifest(staging)
            installed.verify_files()  # the copy, not only the source, must be intact
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
        return read_manifest(target)

    def remove(self, bundle_id: str) -> None:
        if any(is_builtin(m) and m.bundle_id == bundle_id for m in self.list()):
            raise Sam2WebError(f"'{bundle_id}' is built into sam2web and cannot be removed; "
                               "it is only the default while no other model is installed")
        target = self.root / bundle_id
        if not (target / "manifest.json").is_file() or bundle_id.startswith("."):
            raise Sam2WebError(f"model '{bundle_id}' is not installed in {self.root}")
        shutil.rmtree(target)


def _readable_bundles(dirs):
    """Manifests of the bundle directories among `dirs`; a stray or broken directory is skipped."""
    for child in dirs:
        if child.is_dir() and not child.name.startswith("."):
            try:
                yield read_manifest(child)
            except BadBundleError:
                continue


def _preference(manifest: Manifest):
    d = manifest.data
    size = SIZE_ORDER.index(d.get("size")) if d.get("size") in SIZE_ORDER else len(SIZE_ORDER)
    precision = PRECISION_ORDER.index(d.get("precision", "fp32")) if d.get(
        "precision") in PRECISION_ORDER else len(PRECISION_ORDER)
    return (bool(d.get("random_weights")), is_builtin(manifest), d.get("sam2_version") != "2.1",
            size, precision, manifest.bundle_id)
