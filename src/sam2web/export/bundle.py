"""`sam2web export`: checkpoint -> verified web bundles (ONNX files + manifest.json)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sam2web import __version__
from sam2web.errors import ParityError, Sam2WebError
from sam2web.export.models import ModelSpec, get_spec
from sam2web.export.onnx_export import (
    OPSET,
    PRECISIONS,
    convert,
    convert_file,
    export_fp32,
    io_signature,
)
from sam2web.export.verify import IOU_THRESHOLDS, passes
from sam2web.manifest import (
    FORMAT,
    FORMAT_VERSION,
    Manifest,
    check_model_id,
    describe_file,
    sha256_file,
)

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


@dataclass
class ExportResult:
    path: Path
    precision: str
    parity: dict | None
    passed: bool


def bundle_id(spec: ModelSpec, precision: str, name: str | None = None) -> str:
    return f"{name or spec.model_id}-{precision}"


def _manifest(
    spec, precision, root: Path, checkpoint: Path | None, ckpt_sha: str | None, name: str | None
) -> Manifest:
    import onnx
    import onnxruntime
    import torch

    from sam2web.export.everything_export import everything_file_entries
    from sam2web.export.video_export import VIDEO_ROLES, video_file_entries

    files = {
        role: describe_file(root, f"{role}.onnx", **io_signature(root / f"{role}.onnx"))
        for role in ("encoder", "decoder")
    }
    files.update(video_file_entries(root))
    files.update(everything_file_entries(root))
    capabilities = ["image"] + (["video"] if set(VIDEO_ROLES) <= set(files) else [])
    capabilities += ["everything"] if "decoder_batch" in files else []
    return Manifest.from_dict(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "id": bundle_id(spec, precision, name),
            "family": "sam2",
            "capabilities": capabilities,
            "model_id": spec.model_id,
            "sam2_version": spec.version,
            "size": spec.size,
            "precision": precision,
            "random_weights": checkpoint is None,
            "checkpoint": None
            if checkpoint is None
            else {"name": checkpoint.name, "sha256": ckpt_sha},
            "input_size": 1024,
            "low_res_size": 256,
            "mean": MEAN,
            "std": STD,
            "pixel_scale": 255,
            "mask_threshold": 0.0,
            "files": files,
            "exporter": {
                "sam2web": __version__,
                "torch": torch.__version__,
                "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__,
                "opset": OPSET,
            },
            "parity": None,
        },
        root,
    )


def export_bundles(
    model_id: str,
    out_dir: Path,
    checkpoint: Path | None = None,
    precisions: tuple[str, ...] = ("fp32",),
    name: str | None = None,
    verify: bool = True,
    force: bool = False,
    photos: dict | None = None,
    log: Callable[[str], None] = print,
    video: bool = True,
    verify_video: bool | None = None,
    clip=None,
    everything: bool = True,
) -> list[ExportResult]:
    """Export one bundle per precision to out_dir/<id>-<precision>/.

    checkpoint=None means random weights (for tests; the manifest says so). Work happens in a
    temporary directory beside the target, so a failure never leaves a half-written bundle and
    never touches an existing one. A bundle that misses the parity bar is kept, renamed
    <id>.unverified, and ParityError is raised.

    video: also export the tracking graphs (capability `video`, see video_export.py);
    verify_video: check them against the official SAM2VideoPredictor on a real clip (default:
    whenever `verify` and `video`); clip: that clip's frames (default: video_verify's clip).
    everything: also export the fixed-batch decoder for segment-everything (capability
    `everything`, see everything_export.py).
    """
    if verify_video is None:
        verify_video = verify and video
    import torch

    from sam2web.export.checkpoint import build_model, load_checkpoint, read_state_dict

    spec = get_spec(model_id)
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        raise Sam2WebError(f"unknown precision {bad}; choose from {', '.join(PRECISIONS)}")
    if name is not None:
        check_model_id(name, "--name", hint="it names the bundle's directory")
    for p in precisions:  # the ids name directories in OUT and in the model store
        check_model_id(bundle_id(spec, p, name), "bundle id")
    out_dir = Path(out_dir)
    targets = {p: out_dir / bundle_id(spec, p, name) for p in precisions}
    existing = [str(t) for t in targets.values() if t.exists()]
    if existing and not force:
        raise Sam2WebError(f"{', '.join(existing)} already exists; pass --force to replace it")
    state = read_state_dict(Path(checkpoint)) if checkpoint is not None else None  # fail fast
    out_dir.mkdir(parents=True, exist_ok=True)

    log(f"building {spec.model_id}")
    torch.manual_seed(0)  # random-weight exports are reproducible
    model = build_model(spec)
    ckpt_sha = None
    if checkpoint is not None:
        log(f"loading checkpoint {checkpoint}")
        load_checkpoint(model, spec, Path(checkpoint), state)
        del state
        ckpt_sha = sha256_file(Path(checkpoint))

    results = []
    with tempfile.TemporaryDirectory(prefix=".sam2web-export-", dir=out_dir) as tmp:
        tmp = Path(tmp)
        log("exporting ONNX (fp32)")
        export_fp32(model, tmp / "fp32")
        if everything:
            from sam2web.export.everything_export import export_decoder_batch_fp32
            from sam2web.export.onnx_export import _export

            log("exporting ONNX fixed-batch decoder (fp32)")
            export_decoder_batch_fp32(model, tmp / "fp32", _export)
        if video:
            from sam2web.export.onnx_export import _export
            from sam2web.export.video_export import export_video_fp32

            log("exporting ONNX video graphs (fp32)")
            export_video_fp32(model, tmp / "fp32", _export)
        official_video = None
        if video and verify_video:
            from sam2web.export.video_verify import (
                OfficialReference,
                default_clip,
                default_script,
                official_video_predictor,
            )

            clip = clip if clip is not None else default_clip()
            script = default_script(*clip[0].shape[:2])
            official_video = OfficialReference(official_video_predictor(model, spec), clip, script)
        official = None
        if verify:
            from sam2web.export.photos import real_photos
            from sam2web.export.verify import official_predictor

            official = official_predictor(model)
            photos = photos if photos is not None else real_photos()
        for precision in precisions:
            root = tmp / precision
            if precision != "fp32":
                log(f"converting to {precision}")
                convert(tmp / "fp32", root, precision)
                if everything:
                    from sam2web.export.everything_export import convert_decoder_batch

                    convert_decoder_batch(tmp / "fp32", root, precision)
                if video:
                    from sam2web.export.video_export import convert_video

                    convert_video(tmp / "fp32", root, precision)
            manifest = _manifest(
                spec, precision, root, checkpoint and Path(checkpoint), ckpt_sha, name
            )
            manifest.write()
            parity, ok = None, True
            if verify:
                parity, ok = _verify(official, root, photos, precision, log)
                manifest.with_changes(parity=parity).write()
            if official_video is not None:
                from sam2web.export.video_verify import verify_video_bundle

                video_parity, video_ok = verify_video_bundle(official_video, root, precision, log)
                if parity is None:
                    parity = {"mask_iou_min": {}}
                parity = dict(parity, video=video_parity, passed=ok and video_ok)
                ok = ok and video_ok
                manifest.with_changes(parity=parity).write()
            results.append(ExportResult(root, precision, parity, ok))
        del model, official, official_video
        # Publish: every precision moves next to its target only now that all work succeeded.
        for result in results:
            target = targets[result.precision]
            if not result.passed:
                target = target.with_name(target.name + ".unverified")
            if target.exists():
                shutil.rmtree(target)
            result.path = Path(shutil.move(str(result.path), str(target)))
    failed = [r for r in results if not r.passed]
    if failed:
        lines = [_failure_line(r) for r in failed]
        raise ParityError(
            "exported ONNX does not match PyTorch closely enough:\n  " + "\n  ".join(lines)
        )
    return results


def _failure_line(r: ExportResult) -> str:
    bar = IOU_THRESHOLDS[r.precision]
    parts = []
    image = r.parity.get("mask_iou_min") or {}
    if image and min(image.values()) < bar:
        parts.append(f"min mask IoU {min(image.values()):.4f} < {bar}")
    video = r.parity.get("video")
    if video and not video["passed"]:
        parts.append(f"video: min per-frame mask IoU {video['mask_iou_min']:.4f} < {bar}")
    return f"{r.precision}: {'; '.join(parts) or 'below the bar'} (kept for inspection at {r.path})"


def _verify(official, root: Path, photos: dict, precision: str, log) -> tuple[dict, bool]:
    from tqdm import tqdm

    from sam2web.export.verify import compare
    from sam2web.predict.image import Predictor

    ours = Predictor.from_bundle(root)
    with tqdm(total=len(photos), desc=f"verifying {precision} vs PyTorch", unit="photo") as bar:
        parity = compare(official, ours, photos, progress=lambda: bar.update(1))
    ok = passes(parity, precision)
    log(
        f"{precision}: encoder cosine >= {parity['encoder_cosine_min']:.6f}; mask IoU min per "
        "prompt: "
        + ", ".join(f"{k} {v:.4f}" for k, v in parity["mask_iou_min"].items())
        + (
            f"; {parity['stability_flips']} stability tie(s) broken the other way"
            if parity["stability_flips"]
            else ""
        )
        + ("" if ok else f"  -> BELOW {IOU_THRESHOLDS[precision]}")
    )
    parity["threshold"] = IOU_THRESHOLDS[precision]
    parity["passed"] = ok
    return parity, ok


def derive_precision(source: Path, precision: str, out_root: Path) -> Path:
    """A reduced-precision copy of an existing bundle (any family, e.g. the built-in model):
    the same graphs converted to fp16, fp16w (fp16 storage, fp32 arithmetic) or weight-only int8,
    with a manifest that says so."""
    from sam2web.manifest import read_manifest

    reduced = [p for p in PRECISIONS if p != "fp32"]
    if precision not in reduced:
        raise Sam2WebError(f"precision must be one of {', '.join(reduced)}, not {precision!r}")
    src = read_manifest(source)
    if src.precision != "fp32":
        raise Sam2WebError(f"{src.id} is {src.precision}; convert from fp32")
    data = src.to_json()
    base = src.id.removesuffix("-fp32")
    data.update(
        id=check_model_id(f"{base}-{precision}", "converted model id"),
        precision=precision,
        builtin=False,
        parity=None,
        derived_from=src.id,
    )
    if src.label:
        data["label"] = f"{src.label} [{precision}]"
    target = out_root / data["id"]
    target.mkdir(parents=True, exist_ok=True)
    for role, entry in src.files.items():
        path = target / entry.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if entry.path.endswith(".onnx"):
            convert_file(src.path_of(role), path, precision)
        else:  # data files (video_constants.json) are the same at any precision
            shutil.copyfile(src.path_of(role), path)
            data["files"][role] = describe_file(target, entry.path)
            continue
        data["files"][role] = describe_file(target, entry.path, **io_signature(path))
    Manifest.from_dict(data, target).write()
    return target
