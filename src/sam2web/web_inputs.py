"""Which web build a built app came from: a sha256 over every file the web build reads (web/,
its node_modules/, unit tests and the npm engine package's own build output aside). The build
hook (hatch_build.py) stores it beside the built app and skips npm while it matches. Standard
library only: the hook loads this module by path, before sam2web's dependencies exist."""

from __future__ import annotations

import hashlib
from pathlib import Path

STAMP_NAME = ".web-inputs.sha256"
_NOT_INPUTS = {("node_modules",), ("test",), ("engine-package", "dist")}


def web_inputs_digest(web: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(web).rglob("*") if p.is_file()):
        relative = path.relative_to(web)
        if relative.parts[:1] in _NOT_INPUTS or relative.parts[:2] in _NOT_INPUTS:
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def is_current(web: Path, static: Path) -> bool:
    """Whether `static` holds a build of `web` as it is now."""
    stamp = Path(static) / STAMP_NAME
    return (
        (Path(static) / "index.html").is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == web_inputs_digest(web)
    )


def write_stamp(web: Path, static: Path) -> None:
    (Path(static) / STAMP_NAME).write_text(web_inputs_digest(web) + "\n")
