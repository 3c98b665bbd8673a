"""`sam2web build-site OUT --model ID ...`: the app and chosen models as plain files for any
static host (GitHub Pages, an object store, `python -m http.server`).

What a host cannot do, the site does itself:
- Cross-origin isolation (WASM threads) without COOP/COEP headers: coi.js registers coi-sw.js, a
  service worker that adds `sam2web serve`'s headers to every same-origin response.
- The model catalogue is a file (api/models, the server's JSON with relative URLs); model files
  are content-addressed (blobs/<sha256>) and, over `part_bytes`, split into parts
  (blobs/<sha256>.partNNN) that the engine fetches in order into one file and verifies against
  the whole file's sha256 before use, caching it in OPFS as from the server.

OUT is the command's own: a new or empty folder, or one this command built before (its
.sam2web-site.json lists what it wrote; only those files are replaced, anything added beside
them is kept). It never writes into another non-empty folder, or outside OUT.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sam2web.errors import OutputError, Sam2WebError
from sam2web.manifest import Manifest, describe_bundle
from sam2web.server.app import STATIC_DIR
from sam2web.server.headers import SECURITY_HEADERS
from sam2web.store import ModelStore

MARKER = ".sam2web-site.json"
DEFAULT_PART_BYTES = 100_000_000  # under GitHub's 100 MiB per-file limit
_HERE = Path(__file__).parent
# Source-tree leftovers that are not part of the app (see pyproject.toml's wheel artifacts).
_NOT_APP = ("bench", ".web-inputs.sha256")


def _app_files(static_dir: Path) -> dict[str, Path]:
    if not (static_dir / "index.html").is_file():
        raise Sam2WebError(f"the web app is not built ({static_dir} has no index.html)")
    files = {}
    for path in sorted(static_dir.rglob("*")):
        relative = path.relative_to(static_dir)
        if path.is_file() and relative.parts[0] not in _NOT_APP:
            files[relative.as_posix()] = path
    return files


def _service_worker() -> str:
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    return (_HERE / "coi-sw.js").read_text().replace("__SAM2WEB_HEADERS__", json.dumps(headers))


def _index_html(static_dir: Path) -> str:
    html = (static_dir / "index.html").read_text()
    if "<head>" not in html:
        raise Sam2WebError("the built index.html has no <head> to add the service worker to")
    # First in <head>: the registration starts before the app's modules load.
    return html.replace("<head>", '<head>\n    <script src="./coi.js"></script>', 1)


def _model_entry(
    manifest: Manifest, part_bytes: int
) -> tuple[dict, dict[str, tuple[Path, int, int]]]:
    """The catalogue entry and the blobs it needs: name -> (source file, offset, length)."""
    urls, parts, blobs = {}, {}, {}
    for role, entry in manifest.files.items():
        source = manifest.root / entry.path
        name = f"blobs/{entry.sha256}"
        urls[role] = name
        if entry.bytes > part_bytes:
            count = -(-entry.bytes // part_bytes)
            names = [f"{name}.part{k:03d}" for k in range(count)]
            for k, part in enumerate(names):
                blobs[part] = (
                    source,
                    k * part_bytes,
                    min(part_bytes, entry.bytes - k * part_bytes),
                )
            parts[role] = {"part_bytes": part_bytes, "urls": names}
        else:
            blobs[name] = (source, 0, entry.bytes)
    described = {**describe_bundle(manifest), "manifest": manifest.to_json(), "urls": urls}
    if parts:
        described["parts"] = parts
    return described, blobs


def _claim(out: Path) -> list[str]:
    """Check that OUT may be written; returns the files an earlier build of it wrote."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} is a file, not a folder")
    if not out.exists() or not any(out.iterdir()):
        return []
    marker = out / MARKER
    if not marker.is_file():
        raise OutputError(
            f"{out} is not empty and was not built by `sam2web build-site`: "
            "choose a new or empty folder"
        )
    try:
        written = json.loads(marker.read_text())["files"]
    except (ValueError, KeyError, TypeError):
        raise OutputError(f"{marker} is damaged: remove {out} or choose another folder") from None
    root = out.resolve()
    for relative in written:
        if not (root / relative).resolve().is_relative_to(root):
            raise OutputError(f"{marker} names a file outside {out}: {relative!r}")
    return written


def build_site(
    out: Path,
    model_ids: list[str],
    store: ModelStore,
    *,
    part_bytes: int = DEFAULT_PART_BYTES,
    static_dir: Path = STATIC_DIR,
) -> dict:
    """Write the site; returns a summary (files, bytes, models, parts)."""
    out = Path(out)
    if part_bytes < 1_000_000:
        raise OutputError("parts of less than 1 MB would make thousands of requests")
    if not model_ids:
        raise Sam2WebError("name at least one model to ship (--model ID; `sam2web models list`)")
    manifests = [store.get(model_id) for model_id in dict.fromkeys(model_ids)]
    app = _app_files(static_dir)
    models, blobs = [], {}
    for manifest in manifests:
        entry, needed = _model_entry(manifest, part_bytes)
        models.append(entry)
        blobs.update(needed)
    generated = {
        "index.html": _index_html(static_dir).encode(),
        "coi.js": (_HERE / "coi.js").read_bytes(),
        "coi-sw.js": _service_worker().encode(),
        "api/models": json.dumps({"models": models, "store": None, "how_to_add": None}).encode(),
    }
    previous = _claim(out)
    planned = {*app, *generated, *blobs}
    root = out.resolve() if out.exists() else None
    clashes = [
        p for p in planned if root and (out / p).exists() and p not in previous and p != MARKER
    ]
    if clashes:
        raise OutputError(
            f"{out} has files this build would replace: {', '.join(sorted(clashes)[:3])}"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for relative in previous:  # only what the earlier build wrote
            (out / relative).unlink(missing_ok=True)
        total = 0
        for relative, source in app.items():
            if relative in generated:
                continue
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            total += target.stat().st_size
        for relative, data in generated.items():
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            total += len(data)
        for relative, (source, offset, length) in blobs.items():
            _copy_range(source, out / relative, offset, length)
            total += length
        files = sorted(planned)
        (out / MARKER).write_text(json.dumps({"files": files}, indent=1))
    except OSError as exc:
        raise OutputError(f"cannot write the site to {out} ({exc.strerror or exc})") from None
    return {
        "out": str(out),
        "files": len(files),
        "bytes": total,
        "models": [m["id"] for m in models],
        "parts": sum(1 for b in blobs if ".part" in b),
    }


def _copy_range(source: Path, target: Path, offset: int, length: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        src.seek(offset)
        left = length
        while left:
            block = src.read(min(left, 1 << 22))
            if not block:
                raise OutputError(f"{source} is shorter than its manifest says")
            dst.write(block)
            left -= len(block)
