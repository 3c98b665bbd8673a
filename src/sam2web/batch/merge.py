"""OUT/merged.coco.json: the per-file COCO files of a batch in one, ids unique.

segment: one image per input file (`file_name` = its key, the path relative to the inputs' base
folder), its annotations renumbered, categories merged by name. track: one video per input file
(`file_name` its key), one image per tracked frame (`file_name` = OUT-relative path of the frame's
mask PNG name, as the per-file tracks.json names it), annotations renumbered; `track_id` is unique
across the batch and `obj_id` keeps the object id of the file's prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

from sam2web.atomic import write_bytes_atomic

MERGED_FILE = "merged.coco.json"


def merge_segment(docs: list[tuple[str, str, dict]]) -> dict:
    """docs: (key, out_rel, per-file COCO document)."""
    categories: dict[str, int] = {}
    images, annotations = [], []
    for key, _out_rel, doc in docs:
        names = {c["id"]: c["name"] for c in doc.get("categories", [])}
        ids = {}
        for image in doc["images"]:
            ids[image["id"]] = len(images) + 1
            images.append({**image, "id": len(images) + 1, "file_name": key})
        for a in doc["annotations"]:
            name = names.get(a["category_id"], "object")
            category = categories.setdefault(name, len(categories) + 1)
            annotations.append(
                {
                    **a,
                    "id": len(annotations) + 1,
                    "image_id": ids[a["image_id"]],
                    "category_id": category,
                }
            )
    return {
        "info": {"description": "sam2web batch segment", "files": len(docs)},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for n, i in categories.items()] or _object(),
    }


def merge_track(docs: list[tuple[str, str, dict]]) -> dict:
    videos, images, annotations, tracks = [], [], [], []
    for key, out_rel, doc in docs:
        video_ids, image_ids, track_ids = {}, {}, {}
        for video in doc.get("videos", []):
            video_ids[video["id"]] = len(videos) + 1
            videos.append({**video, "id": len(videos) + 1, "file_name": key})
        for image in doc["images"]:
            image_ids[image["id"]] = len(images) + 1
            images.append(
                {
                    **image,
                    "id": len(images) + 1,
                    "video_id": video_ids.get(image.get("video_id"), len(videos)),
                    "file_name": f"{out_rel}/masks/{image['file_name']}",
                }
            )
        for track in doc.get("tracks", []):
            track_ids[track["id"]] = len(tracks) + 1
            tracks.append({"id": len(tracks) + 1, "category_id": 1, "obj_id": track["id"]})
        for a in doc["annotations"]:
            annotations.append(
                {
                    **a,
                    "id": len(annotations) + 1,
                    "image_id": image_ids[a["image_id"]],
                    "video_id": video_ids.get(a.get("video_id"), len(videos)),
                    "track_id": track_ids[a["track_id"]],
                    "obj_id": a["track_id"],
                }
            )
    return {
        "info": {"description": "sam2web batch track", "files": len(docs)},
        "videos": videos,
        "images": images,
        "annotations": annotations,
        "categories": _object(),
        "tracks": tracks,
    }


def _object() -> list[dict]:
    return [{"id": 1, "name": "object"}]


def write_merged(out_dir: Path, command: str, done: list[tuple[str, str, str]], complete: bool):
    """done: (key, out_rel, the per-file COCO path relative to OUT) of every finished file, in
    input order. -> the merged file's path."""
    docs = [(key, rel, json.loads((out_dir / coco).read_text())) for key, rel, coco in done]
    merged = merge_track(docs) if command == "track" else merge_segment(docs)
    merged["info"]["complete"] = complete
    path = Path(out_dir) / MERGED_FILE
    write_bytes_atomic(path, (json.dumps(merged, separators=(",", ":")) + "\n").encode())
    return path
