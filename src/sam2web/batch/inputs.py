"""What a batch works on: INPUT resolved to files, each with its prompts and output folder.

INPUT is a folder (searched recursively for the kind's extensions), a glob (`photos/**/*.jpg`,
quoted so the shell leaves it alone) or a manifest: a .csv with a `file` (or `path`) column or a
.jsonl with one {"file": ...} object per line; relative names are relative to the manifest's
folder. Each file's outputs go to OUT/<its path relative to the inputs' base folder, without the
extension>/ (the full name where two inputs would share that folder).

prompts.jsonl, one line per file ("file": as in the manifest, or relative to INPUT's base folder):

- segment: {"file": "a.jpg", "points": [[x, y], ...], "labels": [1, 0, ...], "box": [x0, y0, x1,
  y1]} for one object, or {"file": "a.jpg", "objects": [{"points": ..., "labels": ..., "box":
  ...}, ...]} for several (one mask each); labels default to 1 (positive).
- track: {"file": "clip.mp4", "objects": [{"obj_id": 1, "frame": 0, "points": ..., "labels": ...,
  "box": ...}, ...], "start": N, "end": N, "reverse": false} (start/end/reverse optional, as the
  track command's options); an object may have entries on several frames.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from sam2web.errors import BadPromptError, Sam2WebError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif")
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi")
EXTENSIONS = {"image": IMAGE_EXTENSIONS, "video": VIDEO_EXTENSIONS}


class InputError(Sam2WebError):
    """INPUT names no files this batch can work on."""


@dataclass
class Item:
    """One input file: `key` (its path relative to the base folder, with '/') names it in the
    ledger, failures and merged COCO; `out_rel` is its output folder relative to OUT."""

    key: str
    path: Path
    out_rel: str
    prompts: dict | None = field(default=None)


def resolve_inputs(source: str, kind: str, exclude: Path | None = None) -> tuple[Path, list[Path]]:
    """-> (base folder, the files in a stable order). kind: "image" or "video"; exclude: a
    folder whose files are never inputs (OUT, when it lies inside INPUT)."""
    extensions = EXTENSIONS[kind]
    path = Path(source)
    skip = exclude.resolve() if exclude is not None else None

    def wanted(p: Path) -> bool:
        return skip is None or not p.resolve().is_relative_to(skip)

    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in extensions and _visible(p, path) and wanted(p)
        )
        if not files:
            raise InputError(f"{source}: no {kind} files ({', '.join(extensions)}) in this folder")
        return path.resolve(), [p.resolve() for p in files]
    if path.is_file() and path.suffix.lower() in (".csv", ".jsonl"):
        files = _manifest_files(path)
    elif glob.has_magic(source):
        matches = glob.glob(source, recursive=True)
        files = sorted(Path(p) for p in matches if Path(p).is_file() and wanted(Path(p)))
        if not files:
            raise InputError(f"{source}: the pattern matches no files")
    elif path.is_file():
        files = [path]
    else:
        raise InputError(f"{source}: no such folder, file or pattern")
    files = [f.resolve() for f in files]
    base = Path(os.path.commonpath([str(f.parent) for f in files]))
    return base, files


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _manifest_files(path: Path) -> list[Path]:
    folder = path.parent
    names: list[str] = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            column = next((c for c in ("file", "path") if c in (reader.fieldnames or [])), None)
            if column is None:
                raise InputError(f"{path}: a manifest CSV needs a 'file' (or 'path') column")
            for lineno, row in enumerate(reader, start=2):
                name = (row.get(column) or "").strip()
                if not name:
                    raise InputError(f"{path}:{lineno}: empty '{column}'")
                names.append(name)
    else:
        for lineno, record in _jsonl(path):
            if not isinstance(record.get("file"), str) or not record["file"]:
                raise InputError(f'{path}:{lineno}: each line needs "file": "<path>"')
            names.append(record["file"])
    if not names:
        raise InputError(f"{path}: the manifest lists no files")
    # Missing files are kept: each becomes a failure ("not found"), the others still run.
    return list(dict.fromkeys(folder / n for n in names))


def _jsonl(path: Path):
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} ({exc})") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadPromptError(f"{path}:{lineno}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise BadPromptError(f"{path}:{lineno}: each line must be a JSON object")
        yield lineno, record


def make_items(base: Path, files: list[Path]) -> list[Item]:
    """Items with their keys and output folders (unique: the full name where stems clash)."""
    keys = [_key(base, f) for f in files]
    stems = [k.rsplit(".", 1)[0] if "." in k.rsplit("/", 1)[-1] else k for k in keys]
    clash = {s for s in stems if stems.count(s) > 1}
    return [
        Item(key=k, path=f, out_rel=k if s in clash else s)
        for k, f, s in zip(keys, files, stems, strict=True)
    ]


def _key(base: Path, path: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.name


def attach_prompts(items: list[Item], prompts_path: Path, kind: str) -> list[Item]:
    """Each item's prompts from prompts.jsonl (checked; errors name the line). A line naming a
    file that is not among the inputs is an error; an input with no line keeps prompts None."""
    by_key = {item.key: item for item in items}
    by_path = {item.path: item for item in items}
    seen: dict[str, int] = {}
    check = _segment_prompts if kind == "image" else _track_prompts
    for lineno, record in _jsonl(prompts_path):
        where = f"{prompts_path}:{lineno}"
        name = record.get("file")
        if not isinstance(name, str) or not name:
            raise BadPromptError(f'{where}: each line needs "file": "<path>"')
        item = by_key.get(name) or by_path.get((prompts_path.parent / name).resolve())
        if item is None:
            raise BadPromptError(f"{where}: {name} is not among the inputs")
        if item.key in seen:
            raise BadPromptError(f"{where}: {name} already has prompts on line {seen[item.key]}")
        seen[item.key] = lineno
        item.prompts = check(record, where)
    if not seen:
        raise BadPromptError(f"{prompts_path}: no prompts in it")
    return items


def _numbers(value, count: int | None, what: str, where: str) -> list[float]:
    ok = isinstance(value, list) and (count is None or len(value) == count)
    ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or not all(math.isfinite(v) for v in value):
        raise BadPromptError(f"{where}: {what} must be {count} finite numbers, got {value!r}")
    return [float(v) for v in value]


def _object(record: dict, where: str) -> dict:
    points = record.get("points", [])
    if not isinstance(points, list):
        raise BadPromptError(f'{where}: "points" must be a list of [x, y]')
    points = [_numbers(p, 2, "each point", where) for p in points]
    labels = record.get("labels", [1] * len(points))
    if not isinstance(labels, list) or len(labels) != len(points):
        raise BadPromptError(f'{where}: "labels" must give one label (1 or 0) per point')
    if any(label not in (0, 1) or isinstance(label, bool) for label in labels):
        raise BadPromptError(f"{where}: labels are 1 (positive) or 0 (negative), got {labels}")
    box = record.get("box")
    if box is not None:
        box = _numbers(box, 4, '"box" [x0, y0, x1, y1]', where)
        if box[2] < box[0] or box[3] < box[1]:
            raise BadPromptError(f'{where}: "box" needs x0 <= x1 and y0 <= y1, got {box}')
    if not points and box is None:
        raise BadPromptError(f'{where}: give "points" or a "box"')
    return {"points": points, "labels": [int(v) for v in labels], "box": box}


def _segment_prompts(record: dict, where: str) -> dict:
    if "objects" in record:
        objects = record["objects"]
        if not isinstance(objects, list) or not objects:
            raise BadPromptError(f'{where}: "objects" must be a non-empty list')
        if any(k in record for k in ("points", "labels", "box")):
            raise BadPromptError(f'{where}: give "objects" or points/labels/box, not both')
        return {"objects": [_object(_dict(o, where), where) for o in objects]}
    return {"objects": [_object(record, where)]}


def _dict(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise BadPromptError(f"{where}: each object must be a JSON object")
    return value


def _int(value, what: str, where: str, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadPromptError(f"{where}: {what} must be an integer >= {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise BadPromptError(f"{where}: {what} must be at most {maximum}, got {value}")
    return value


def _track_prompts(record: dict, where: str) -> dict:
    objects = record.get("objects")
    if not isinstance(objects, list) or not objects:
        raise BadPromptError(f'{where}: "objects" must be a non-empty list of prompts')
    groups = []
    seen = set()
    for o in objects:
        o = _dict(o, where)
        obj_id = _int(o.get("obj_id", 1), '"obj_id"', where, 1, 255)
        frame = _int(o.get("frame", 0), '"frame"', where, 0)
        if (obj_id, frame) in seen:
            raise BadPromptError(
                f"{where}: object {obj_id} has two entries for frame {frame} (give all its "
                "points and its box on that frame in one entry)"
            )
        seen.add((obj_id, frame))
        groups.append({"obj_id": obj_id, "frame": frame, **_object(o, where)})
    plan = {"objects": groups, "reverse": bool(record.get("reverse", False))}
    for name in ("start", "end"):
        value = record.get(name)
        plan[name] = None if value is None else _int(value, f'"{name}"', where, 0)
    return plan
