"""Build the TypeScript web app (web/) into the Python package while the wheel is built."""

from __future__ import annotations

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
        if os.environ.get("SAM2WEB_SKIP_WEB_BUILD") and (static / "index.html").is_file():
            return
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("building sam2web needs Node.js and npm (for the web app in web/)")
        quiet = ["--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run([npm, "ci", *quiet], cwd=web, check=True)
        subprocess.run([npm, "run", "build"], cwd=web, check=True)
        if not (static / "index.html").is_file():
            raise RuntimeError(f"the web build did not produce {static / 'index.html'}")
