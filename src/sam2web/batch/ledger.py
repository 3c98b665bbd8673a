"""The resume record of a batch: OUT/.sam2web-batch/ledger/<hash of the file's key>.json, one entry
per input file, each written atomically (a temporary file renamed over it).

An entry holds the file's key, its output folder and files (relative to OUT), the bundle's sha256
(`bundle_sha256`: over its files' sha256), the parameters' sha256 (`params_sha256`: the command's
settings and the file's own prompts), the input's size and mtime, and its state: "committing"
while its outputs are being moved into place (the folder there is this batch's to replace), then
"done". A rerun skips a file only when its entry is done, was made with the same bundle,
parameters and input file, and every output it lists exists.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from sam2web.atomic import write_bytes_atomic

STATE_DIR = ".sam2web-batch"


def canonical_sha256(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def bundle_sha256(manifest) -> str:
    """One sha256 for a bundle: over its files' roles and sha256 (as manifest.json records them)."""
    return canonical_sha256({role: entry.sha256 for role, entry in manifest.files.items()})


def input_stamp(path: Path) -> dict:
    try:
        st = path.stat()
    except OSError:
        return {"size": None, "mtime_ns": None}
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


class Ledger:
    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.folder = self.out_dir / STATE_DIR / "ledger"

    def path_of(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"

    def get(self, key: str) -> dict | None:
        try:
            entry = json.loads(self.path_of(key).read_text())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def write(self, entry: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = json.dumps({**entry, "written_at": time.time()}, indent=1) + "\n"
        write_bytes_atomic(self.path_of(entry["key"]), data.encode())

    def is_done(self, key: str, bundle: str, params: str, stamp: dict) -> bool:
        """True when `key` was finished with this bundle, these parameters and this input file,
        and its outputs are all there."""
        entry = self.get(key)
        if entry is None or entry.get("state") != "done":
            return False
        if (entry.get("bundle_sha256"), entry.get("params_sha256")) != (bundle, params):
            return False
        if entry.get("input") != stamp:
            return False
        return all((self.out_dir / rel).exists() for rel in entry.get("outputs", []))

    def owns(self, key: str, out_rel: str) -> bool:
        """Whether OUT/out_rel was put there by this batch for `key` (so may be replaced)."""
        entry = self.get(key)
        return entry is not None and entry.get("out_dir") == out_rel
