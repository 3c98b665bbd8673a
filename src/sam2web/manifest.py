"""The bundle manifest: what a bundle holds, and the checks that it is intact."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sam2web.errors import BadBundleError

MANIFEST_NAME = "manifest.json"
FORMAT = "sam2web-bundle"
FORMAT_VERSION = 1


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Manifest:
    data: dict
    root: Path

    @property
    def bundle_id(self) -> str:
        return self.data["id"]

    @property
    def files(self) -> dict:
        return self.data["files"]

    def path_of(self, role: str) -> Path:
        return self.root / self.files[role]["path"]

    def total_bytes(self) -> int:
        return sum(f["bytes"] for f in self.files.values())

    def verify_files(self) -> None:
        """Size and sha256 of every file against the manifest; raises BadBundleError naming it."""
        for role, info in self.files.items():
            path = self.path_of(role)
            if not path.is_file():
                raise BadBundleError(f"bundle {self.bundle_id}: {info['path']} is missing")
            size = path.stat().st_size
            if size != info["bytes"]:
                raise BadBundleError(
                    f"bundle {self.bundle_id}: {info['path']} is {size:,} bytes, manifest says "
                    f"{info['bytes']:,} (truncated or replaced)"
                )
            if sha256_file(path) != info["sha256"]:
                raise BadBundleError(
                    f"bundle {self.bundle_id}: {info['path']} does not match its sha256 "
                    "(corrupt or tampered with)"
                )

    def write(self) -> None:
        (self.root / MANIFEST_NAME).write_text(json.dumps(self.data, indent=2) + "\n")


def describe_file(root: Path, relpath: str, **extra) -> dict:
    path = root / relpath
    return {"path": relpath, "bytes": path.stat().st_size, "sha256": sha256_file(path), **extra}


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
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BadBundleError(f"{path} is not a sam2web manifest")
    if data.get("format_version") != FORMAT_VERSION:
        raise BadBundleError(
            f"{path} has format version {data.get('format_version')}, this sam2web reads "
            f"{FORMAT_VERSION}; re-export the bundle or upgrade sam2web"
        )
    for key in ("id", "family", "files", "input_size", "mean", "std"):
        if key not in data:
            raise BadBundleError(f"{path} lacks '{key}'")
    for role in ("encoder", "decoder"):
        info = data["files"].get(role)
        if not info or not {"path", "bytes", "sha256"} <= set(info):
            raise BadBundleError(f"{path} does not describe its {role} file")
        if Path(info["path"]).is_absolute() or ".." in Path(info["path"]).parts:
            raise BadBundleError(f"{path}: file path {info['path']!r} leaves the bundle")
    return Manifest(data, root)
