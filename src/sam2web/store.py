"""The local model store: installed bundles, one directory each, checked by sha256.

The store creates, replaces and deletes only inside its root, and every such path goes through
`ModelStore._inside_root` first. Model ids are plain names (manifest.check_model_id), so no id can
point elsewhere; a symlink in the store is itself replaced or removed, never what it points to.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sam2web.builtin import builtin_bundle_dirs
from sam2web.errors import BadBundleError, Sam2WebError
from sam2web.manifest import MANIFEST_NAME, Manifest, check_model_id, read_manifest

SIZE_ORDER = ["tiny", "small", "base_plus", "large"]
PRECISION_ORDER = ["fp32", "fp16w", "fp16", "int8"]

LIST_HINT = "`sam2web models list` shows the installed ids"

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
    return manifest.builtin


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
                # Only sam2web's own files are built in, whatever a copied manifest says.
                found.append(manifest.with_changes(builtin=False) if manifest.builtin else manifest)
        if self.builtin:
            ids = {m.id for m in found}
            for manifest in _readable_bundles(builtin_bundle_dirs()):
                if manifest.id not in ids:
                    found.append(manifest.with_changes(builtin=True))
        return sorted(found, key=_preference)

    def get(self, bundle_id: str | None = None) -> Manifest:
        """The named bundle, or the default one; the message says how to add a model if none."""
        if bundle_id is not None:
            check_model_id(bundle_id, hint=LIST_HINT)
        models = self.list()
        if not models:
            raise Sam2WebError(f"no models installed in {self.root}.\n{HOW_TO_ADD}")
        if bundle_id is None:
            return models[0]
        for manifest in models:
            if manifest.id == bundle_id:
                return manifest
        ids = ", ".join(m.id for m in models)
        raise Sam2WebError(f"model '{bundle_id}' is not installed (installed: {ids})")

    def add(
        self, bundle_dir: str | Path, allow_random_weights: bool = False, force: bool = False
    ) -> Manifest:
        """Copy a bundle into the store after checking every file against its sha256."""
        source = read_manifest(bundle_dir)  # its id is checked there: a plain name
        source.verify_files()
        if source.random_weights and not allow_random_weights:
            raise Sam2WebError(
                f"{source.id} was exported with random weights (a test model) and would "
                "give meaningless masks; pass --allow-random-weights if you really want it"
            )
        target = self._inside_root(self.root / source.id)
        present = target.exists() or target.is_symlink()
        if present and not force:
            raise Sam2WebError(
                f"model '{source.id}' is already installed; pass --force to replace it"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self._inside_root(Path(tempfile.mkdtemp(prefix=f".{source.id}-", dir=self.root)))
        try:
            for name in [*(entry.path for entry in source.files.values()), MANIFEST_NAME]:
                copy = self._inside_root(staging / name)
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source.root / name, copy)
            installed = read_manifest(staging)
            installed.verify_files()  # the copy, not only the source, must be intact
            if installed.id != source.id:
                raise BadBundleError(f"{bundle_dir}: its manifest changed while it was copied")
            if present:
                self._replace(target, staging)
            else:
                staging.rename(target)
        finally:
            if staging.exists():
                self._delete(staging)
        return read_manifest(target)

    def remove(self, bundle_id: str) -> str | None:
        """Remove an installed model. Returns the target when the store held only a symlink to
        the bundle: the link is removed, the directory it points to is kept."""
        check_model_id(bundle_id, hint=LIST_HINT)
        if any(is_builtin(m) and m.id == bundle_id for m in self.list()):
            raise Sam2WebError(
                f"'{bundle_id}' is built into sam2web and cannot be removed; "
                "it is only the default while no other model is installed"
            )
        target = self._inside_root(self.root / bundle_id)
        if not (target / MANIFEST_NAME).is_file():
            raise Sam2WebError(f"model '{bundle_id}' is not installed in {self.root}")
        link = os.readlink(target) if target.is_symlink() else None
        self._delete(target)
        return link

    # -- paths -------------------------------------------------------------------------------

    def _inside_root(self, path: Path) -> Path:
        """`path` with its directory resolved, after checking that it lies inside the store's
        root. Its last part is not followed: a symlink there is what gets replaced or removed."""
        path = Path(path)
        root = self.root.resolve()
        parent = path.parent.resolve()
        if path.name in ("", ".", "..") or (parent != root and root not in parent.parents):
            raise Sam2WebError(
                f"refusing to touch {path}: it is not inside the model store {self.root}"
            )
        return parent / path.name

    def _delete(self, path: Path) -> None:
        path = self._inside_root(path)
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)  # rmtree removes links inside, never what they point to

    def _replace(self, target: Path, staging: Path) -> None:
        """Put `staging` in place of `target` (a bundle directory or a symlink to one); the old
        one is moved aside first, so a failure leaves it installed."""
        aside = self._inside_root(
            Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=self.root))
        )
        try:
            os.rename(target, aside / "bundle")
            try:
                staging.rename(target)
            except OSError:
                os.rename(aside / "bundle", target)
                raise
        finally:
            self._delete(aside)


def _readable_bundles(dirs):
    """Manifests of the bundle directories among `dirs`; a stray or broken directory is skipped."""
    for child in dirs:
        if child.is_dir() and not child.name.startswith("."):
            try:
                yield read_manifest(child)
            except BadBundleError:
                continue


def _preference(manifest: Manifest):
    m = manifest
    size = SIZE_ORDER.index(m.size) if m.size in SIZE_ORDER else len(SIZE_ORDER)
    precision = (
        PRECISION_ORDER.index(m.precision)
        if m.precision in PRECISION_ORDER
        else len(PRECISION_ORDER)
    )
    return (m.random_weights, m.builtin, m.data.get("sam2_version") != "2.1", size, precision, m.id)
