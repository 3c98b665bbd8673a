"""The bundle manifest (format version 2): what a bundle holds and can do, checked when read.

manifest.json is `{"format": "sam2web-bundle", "format_version": 2, "id", "family",
"capabilities": ["image", ...], "files": {<role>: {"path", "bytes", "sha256", ...}}, "input_size",
"mean", "std", ...}`. `files` is an open map of roles; each known capability needs some of them
(CAPABILITY_ROLES). bundle_manifest.schema.json beside this file is the same rules as a JSON Schema;
web/src/engine/manifest.ts reads the same JSON in the browser. Version 1 manifests (fixed encoder
and decoder roles, no capabilities) are upgraded in memory when read.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sam2web.errors import BadBundleError, Sam2WebError

MANIFEST_NAME = "manifest.json"
SCHEMA_PATH = Path(__file__).with_name("bundle_manifest.schema.json")
FORMAT = "sam2web-bundle"
FORMAT_VERSION = 2
FAMILIES = ("sam2", "sam1")

# Model ids name directories in the store: one plain name, never a path.
MAX_ID_LENGTH = 128
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
ROLE_PATTERN = re.compile(r"[a-z][a-z0-9_]*")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
# One component of a file's path inside its bundle: no "..", no hidden files, no separators.
PATH_PART_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")

# The file roles each known capability needs. Unknown capabilities are kept but need nothing.
CAPABILITY_ROLES: dict[str, tuple[str, ...]] = {
    "image": ("encoder", "decoder"),
    # Tracking (sam2web.VideoPredictor): the image encoder, the memory graphs, a decoder that also
    # gives object scores and pointers, and the few learnt vectors applied outside the graphs.
    "video": ("encoder", "memory_attention", "memory_encoder", "video_decoder", "video_constants"),
    # Segment everything: the image encoder and a fixed-batch decoder for point grids
    # (export/everything_export.py). Bundles without it still segment everything in Python, with
    # the click decoder one point at a time.
    "everything": ("encoder", "decoder_batch"),
}
# The first sam2web that exports each capability's graphs (for the advice to re-export).
CAPABILITY_SINCE: dict[str, str] = {"image": "0.1.0", "video": "0.2.0"}


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def id_problem(value: object) -> str | None:
    """Why `value` is not a valid model id, or None if it is one."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value)} characters long (at most {MAX_ID_LENGTH})"
    if not ID_PATTERN.fullmatch(value):
        return (
            "may hold only letters, digits, '.', '_' and '-' and must start with a letter or "
            "digit (a model id names an installed model, not a path)"
        )
    return None


def check_model_id(value: str, what: str = "model id", hint: str | None = None) -> str:
    """`value` if it is a valid model id; else a Sam2WebError that says why (no traceback)."""
    problem = id_problem(value)
    if problem:
        raise Sam2WebError(
            f"{what} {value!r} is not valid: it {problem}" + (f"; {hint}" if hint else "")
        )
    return value


def _path_problem(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return "is not a file name"
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", value) or ".." in parts:
        return "leaves the bundle"
    if value == MANIFEST_NAME:
        return "is the manifest itself"
    if not all(PATH_PART_PATTERN.fullmatch(p) for p in value.split("/")):
        return (
            "is not a plain relative path (letters, digits, '.', '_', '-', and '/' between "
            "names; no name starting with '.')"
        )
    return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class FileEntry:
    """One file of a bundle: where it is (relative to the bundle), its size and sha256. `data` is
    the whole entry as in manifest.json (the exporter adds the graph's inputs and outputs)."""

    role: str
    path: str
    bytes: int
    sha256: str
    data: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A checked version-2 manifest. The typed fields are read from `data`, the whole manifest as
    JSON (read-only: make a changed copy with `with_changes`); `root` is the bundle directory."""

    id: str
    family: str
    capabilities: tuple[str, ...]
    files: Mapping[str, FileEntry]
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    mask_threshold: float
    label: str | None
    model_id: str | None
    size: str | None
    precision: str | None
    random_weights: bool
    builtin: bool
    io: Mapping[str, str]
    data: Mapping[str, Any] = field(repr=False)
    root: Path

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], root: str | Path, where: str | None = None
    ) -> Manifest:
        """Check a manifest's JSON (version 1 or 2) and return it as version 2; raises
        BadBundleError naming the problem. `where` names the manifest in messages."""
        return _parse(data, Path(root), where or f"the manifest of {root}")

    @property
    def bundle_id(self) -> str:
        return self.id

    def path_of(self, role: str) -> Path:
        entry = self.files.get(role)
        if entry is None:
            raise BadBundleError(
                f"bundle {self.id} has no {role!r} file (it has {', '.join(self.files)})"
            )
        return self.root / entry.path

    def total_bytes(self) -> int:
        return sum(entry.bytes for entry in self.files.values())

    def capability_bytes(self, capability: str) -> int:
        """What a client downloads to use one capability: the files of its roles, each once (the
        browser app fetches the image capability's; web/src/engine/manifest.ts capabilityBytes)."""
        roles = dict.fromkeys(CAPABILITY_ROLES.get(capability, ()))
        return sum(self.files[role].bytes for role in roles if role in self.files)

    def require(self, capability: str) -> None:
        """Raise BadBundleError, with what to do, when the bundle cannot do `capability`."""
        if capability in self.capabilities:
            return
        since = CAPABILITY_SINCE.get(capability)
        how = (
            f"re-export it with sam2web >= {since}"
            if since
            else "re-export it with a sam2web that exports them"
        )
        raise BadBundleError(
            f"bundle {self.id} has no {capability} graphs (it offers "
            f"{', '.join(self.capabilities) or 'nothing'}); {how}"
        )

    def verify_files(self) -> None:
        """Size and sha256 of every file against the manifest; raises BadBundleError naming it."""
        for role, entry in self.files.items():
            path = self.path_of(role)
            if not path.is_file():
                raise BadBundleError(f"bundle {self.id}: {entry.path} is missing")
            size = path.stat().st_size
            if size != entry.bytes:
                raise BadBundleError(
                    f"bundle {self.id}: {entry.path} is {size:,} bytes, manifest says "
                    f"{entry.bytes:,} (truncated or replaced)"
                )
            if sha256_file(path) != entry.sha256:
                raise BadBundleError(
                    f"bundle {self.id}: {entry.path} does not match its sha256 "
                    "(corrupt or tampered with)"
                )

    def to_json(self) -> dict:
        """The manifest as version-2 JSON (a copy the caller may change)."""
        return copy.deepcopy(dict(self.data))

    def with_changes(self, root: str | Path | None = None, **keys) -> Manifest:
        """A checked copy with some top-level JSON keys replaced (and optionally another root)."""
        return Manifest.from_dict(
            {**self.to_json(), **keys},
            self.root if root is None else root,
            where=f"bundle {keys.get('id', self.id)}",
        )

    def write(self) -> None:
        """Write manifest.json into `root`, atomically (a reader never sees half of it)."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        # A unique name opened with "x" (mode from the umask, like any file the user writes).
        tmp = self.root / f".{MANIFEST_NAME}-{secrets.token_hex(8)}"
        try:
            with open(tmp, "x") as f:
                f.write(text)
            os.replace(tmp, self.root / MANIFEST_NAME)
        finally:
            if tmp.exists():
                tmp.unlink()


def describe_file(root: Path, relpath: str, **extra) -> dict:
    path = root / relpath
    return {"path": relpath, "bytes": path.stat().st_size, "sha256": sha256_file(path), **extra}


def describe_bundle(manifest: Manifest) -> dict:
    """The one summary of a bundle: the server's /api/models entries and `sam2web models list
    --json` both start from it (the browser reads the same keys). `bytes`: all its files (what
    the store holds); `download_bytes`: per capability, what a client fetches to use it."""
    m = manifest
    label = m.label or (
        f"{m.model_id or m.id} ({m.precision})" if m.precision else m.model_id or m.id
    )
    return {
        "id": m.id,
        "label": label,
        "family": m.family,
        "model_id": m.model_id,
        "size": m.size,
        "precision": m.precision,
        "capabilities": list(m.capabilities),
        "random_weights": m.random_weights,
        "builtin": m.builtin,
        "bytes": m.total_bytes(),
        "download_bytes": {c: m.capability_bytes(c) for c in m.capabilities},
    }


def read_manifest(bundle_dir: str | Path) -> Manifest:
    root = Path(bundle_dir)
    path = root / MANIFEST_NAME
    if not root.is_dir():
        raise BadBundleError(f"bundle directory not found: {root}")
    if not path.is_file():
        raise BadBundleError(f"{root} is not a sam2web bundle (no {MANIFEST_NAME})")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBundleError(f"{path} is not valid JSON ({exc})") from None
    return _parse(data, root, str(path))


def upgrade_v1(data: Mapping[str, Any]) -> dict:
    """A version-1 manifest as version 2: the same keys, plus the one capability every version-1
    bundle has (its encoder and decoder roles are image graphs)."""
    upgraded = {}
    for key, value in data.items():
        upgraded[key] = 2 if key == "format_version" else value
        if key == "family":
            upgraded["capabilities"] = ["image"]
    upgraded.setdefault("capabilities", ["image"])
    return upgraded


def _parse(data: Mapping[str, Any], root: Path, where: str) -> Manifest:
    def bad(problem: str):
        raise BadBundleError(f"{where}: {problem}")

    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise BadBundleError(f"{where} is not a sam2web manifest")
    version = data.get("format_version")
    if version == 1 and not isinstance(version, bool):
        data = upgrade_v1(data)
    elif version != FORMAT_VERSION or isinstance(version, bool):
        bad(
            f"format version {version!r}; this sam2web reads versions 1 and {FORMAT_VERSION}: "
            "re-export the bundle or upgrade sam2web"
        )
    for key in ("id", "family", "capabilities", "files", "input_size", "mean", "std"):
        if key not in data:
            bad(f"lacks '{key}'")
    if problem := id_problem(data["id"]):
        bad(f"id {data['id']!r} is not a valid model id: it {problem}")
    if data["family"] not in FAMILIES:
        bad(
            f"family {data['family']!r} is not one this sam2web runs ({', '.join(FAMILIES)}); "
            "upgrade sam2web"
        )
    capabilities = data["capabilities"]
    if not isinstance(capabilities, list) or not all(
        isinstance(c, str) and c for c in capabilities
    ):
        bad("'capabilities' must be a list of names")
    files = data["files"]
    if not isinstance(files, Mapping) or not files:
        bad("'files' must map file roles to files")
    entries = {}
    for role, info in files.items():
        if not ROLE_PATTERN.fullmatch(role):
            bad(
                f"file role {role!r} is not a valid role name (lowercase letters, digits and "
                "'_', starting with a letter)"
            )
        if not isinstance(info, Mapping) or not {"path", "bytes", "sha256"} <= set(info):
            bad(f"does not describe its {role} file (path, bytes and sha256)")
        if problem := _path_problem(info["path"]):
            bad(f"file path {info['path']!r} {problem}")
        if not _is_int(info["bytes"]) or info["bytes"] < 0:
            bad(f"the {role} file's size {info['bytes']!r} is not a whole number of bytes")
        if not isinstance(info["sha256"], str) or not SHA256_PATTERN.fullmatch(info["sha256"]):
            bad(f"the {role} file's sha256 {info['sha256']!r} is not 64 lowercase hex digits")
        entries[role] = FileEntry(
            role=role,
            path=info["path"],
            bytes=info["bytes"],
            sha256=info["sha256"],
            data=MappingProxyType(dict(info)),
        )
    for capability in capabilities:
        for role in CAPABILITY_ROLES.get(capability, ()):
            if role not in entries:
                bad(f"does not describe its {role} file (the {capability} capability needs it)")
    if not _is_int(data["input_size"]) or data["input_size"] <= 0:
        bad(f"input_size {data['input_size']!r} is not a positive whole number")
    for key in ("mean", "std"):
        value = data[key]
        if not (isinstance(value, list) and len(value) == 3 and all(map(_is_number, value))):
            bad(f"{key} must be 3 numbers (one per RGB channel)")
    if not all(s > 0 for s in data["std"]):
        bad("std must be positive")
    threshold = data.get("mask_threshold", 0.0)
    if not _is_number(threshold):
        bad(f"mask_threshold {threshold!r} is not a number")
    for key in ("label", "model_id", "size", "precision"):
        if data.get(key) is not None and not isinstance(data[key], str):
            bad(f"{key} must be text or null")
    for key in ("random_weights", "builtin"):
        if not isinstance(data.get(key, False), bool):
            bad(f"{key} must be true or false")
    io = data.get("io", {})
    if not isinstance(io, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in io.items()
    ):
        bad("io must map names to tensor names")
    frozen = copy.deepcopy(dict(data))
    return Manifest(
        id=data["id"],
        family=data["family"],
        capabilities=tuple(capabilities),
        files=MappingProxyType(entries),
        input_size=data["input_size"],
        mean=tuple(data["mean"]),
        std=tuple(data["std"]),
        mask_threshold=float(threshold),
        label=data.get("label"),
        model_id=data.get("model_id"),
        size=data.get("size"),
        precision=data.get("precision"),
        random_weights=data.get("random_weights", False),
        builtin=data.get("builtin", False),
        io=MappingProxyType(dict(io)),
        data=MappingProxyType(frozen),
        root=root,
    )
