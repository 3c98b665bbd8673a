"""The `sam2web` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
import typer.core
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sam2web import cli_everything as E
from sam2web.cli_options import BuiltinOption, StoreOption
from sam2web.errors import Sam2WebError

app = typer.Typer(
    help="SAM2 in the browser, and the Python tools around it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="List, add and remove installed model bundles.", no_args_is_help=True)
app.add_typer(models_app, name="models")
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def announce_model(manifest, quiet: bool) -> None:
    """What a user must know about the model before its masks: random weights always; the
    built-in SAM1-family model unless `quiet` (JSON output)."""
    if manifest.random_weights:
        err.print(f"[yellow]warning: {manifest.id} has random weights (a test model)")
    if manifest.builtin and not quiet:
        err.print(
            f"using the built-in {manifest.label}; for SAM2 see `sam2web models list`",
            highlight=False,
        )


def _store(path: Path | None, builtin: bool = True):
    from sam2web.store import ModelStore

    return ModelStore(path, builtin=builtin)


EXPORT_PRECISIONS = ("fp32", "fp16", "fp16w", "int8")
CONVERT_PRECISIONS = ("fp16", "fp16w", "int8")


def _precisions(allowed: tuple[str, ...]):
    """A --precision callback: every value one of `allowed` (a usage error otherwise), each once."""

    def check(values: list[str]) -> list[str]:
        for value in values:
            if value not in allowed:
                raise typer.BadParameter(
                    f"unknown precision {value!r}; choose from {', '.join(allowed)} (repeat the "
                    f"option for several: --precision {allowed[0]} --precision {allowed[-1]})"
                )
        return list(dict.fromkeys(values))

    return check


_check_export_precisions = _precisions(EXPORT_PRECISIONS)
_check_convert_precisions = _precisions(CONVERT_PRECISIONS)


@app.command()
def export(
    model: str = typer.Option(
        ...,
        help="sam2-hiera-{tiny,small,base-plus,large} or "
        "sam2.1-hiera-{tiny,small,base-plus,large}.",
    ),
    out_dir: Path = typer.Option(
        ...,
        "--out",
        help="Directory; one bundle per precision is written to OUT/<id>-<precision>/.",
    ),
    checkpoint: Path | None = typer.Option(None, help="Official or fine-tuned .pt checkpoint."),
    precision: list[str] = typer.Option(
        ["fp32"],
        callback=_check_export_precisions,
        help="fp32; fp16 (fp16 arithmetic: GPUs with shader-f16); fp16w (fp16 weights, fp32 "
        "arithmetic); int8 (weight-only int8, fp32 arithmetic). Repeat for several "
        "(--precision fp32 --precision int8).",
    ),
    download: bool = typer.Option(False, help="Download the official checkpoint of --model."),
    random_weights: bool = typer.Option(False, help="No checkpoint: random weights (tests only)."),
    name: str | None = typer.Option(
        None, help="Bundle name instead of the model id (for fine-tuned checkpoints)."
    ),
    verify: bool = typer.Option(True, help="Check parity with PyTorch SAM2 on real photos."),
    force: bool = typer.Option(False, help="Replace existing bundles."),
):
    """Export a SAM2 checkpoint to web-ready ONNX bundles, verified against PyTorch."""
    try:
        from sam2web.export.bundle import export_bundles
        from sam2web.export.checkpoint import download_checkpoint
        from sam2web.export.models import get_spec
    except ImportError as exc:
        raise Sam2WebError(
            f"export needs the export extra: pip install 'sam2web[export]' and "
            f"the official sam2 package ({exc})"
        ) from None
    chosen = sum([checkpoint is not None, download, random_weights])
    if chosen != 1:
        raise Sam2WebError("give exactly one of --checkpoint FILE, --download or --random-weights")
    if download:
        checkpoint = download_checkpoint(get_spec(model))
    results = export_bundles(
        model,
        out_dir,
        checkpoint=checkpoint,
        precisions=tuple(precision),
        name=name,
        verify=verify,
        force=force,
        log=lambda m: err.print(f"[dim]{m}[/dim]"),
    )
    for r in results:
        out.print(f"wrote {r.path}")


@app.command()
def segment(
    image: Path = typer.Argument(..., help="Image file (png, jpeg, webp, gif, bmp, tiff, avif)."),
    point: list[str] = typer.Option(
        [],
        help="X,Y[,LABEL] in pixels; LABEL 1 positive (default) "
        "or 0 negative. Repeat for more points.",
    ),
    box: str | None = typer.Option(None, help="X0,Y0,X1,Y1 in pixels."),
    model: str | None = typer.Option(None, help="Installed model id (default: best installed)."),
    out_path: Path = typer.Option(
        ..., "--out", help="Where to write the binary mask PNG (with --all: the COCO JSON)."
    ),
    cutout: Path | None = typer.Option(None, help="Also write a transparent cutout PNG."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    models: Path | None = StoreOption,
    builtin: bool = BuiltinOption,
    everything: bool = E.AllOption,
    png_dir: Path | None = E.PngDirOption,
    points_per_side: int = E.PointsPerSideOption,
    points_per_batch: int = E.PointsPerBatchOption,
    pred_iou_thresh: float | None = E.PredIouOption,
    stability_score_thresh: float = E.StabilityOption,
    stability_score_offset: float = E.StabilityOffsetOption,
    box_nms_thresh: float = E.BoxNmsOption,
    crop_n_layers: int = E.CropLayersOption,
    crop_nms_thresh: float = E.CropNmsOption,
    crop_overlap_ratio: float = E.CropOverlapOption,
    crop_n_points_downscale_factor: int = E.CropDownscaleOption,
    min_mask_region_area: int = E.MinAreaOption,
    mask_threshold: float | None = E.MaskThresholdOption,
    multimask: bool = E.MultimaskOption,
    use_m2m: bool = E.M2mOption,
):
    """Segment one object in an image from points and/or a box, or everything in it (--all)."""
    from sam2web.images import load_image
    from sam2web.masks import bbox, save_cutout_png, save_mask_png
    from sam2web.predict.image import Predictor, best_mask

    if everything:
        if point or box or cutout:
            raise Sam2WebError("--all segments everything: it takes no --point, --box or --cutout")
        settings = E.generator_settings(locals())
        manifest = _store(models, builtin).get(model)
        summary = E.segment_everything(
            image,
            manifest,
            out_path,
            png_dir,
            settings,
            as_json,
            lambda: announce_model(manifest, as_json),
        )
        if as_json:
            print(json.dumps(summary))
        else:
            out.print(f"{summary['masks']} masks: {out_path}", highlight=False)
        return
    if png_dir is not None:
        raise Sam2WebError("--png-dir goes with --all")
    points, labels = _parse_points(point)
    box_xyxy = _parse_numbers(box, 4, "--box") if box else None
    if not points and box_xyxy is None:
        raise Sam2WebError("give at least one --point X,Y or a --box X0,Y0,X1,Y1")
    for target in [out_path, cutout]:
        if target is not None and target.resolve() == image.resolve():
            raise Sam2WebError(f"refusing to overwrite the input image {image}")
    manifest = _store(models, builtin).get(model)  # checks the id: a plain name, not a path
    announce_model(manifest, quiet=as_json)
    rgb = load_image(image)
    predictor = Predictor(manifest)
    predictor.set_image(rgb)
    mask, score = best_mask(predictor, points, labels, box_xyxy)
    save_mask_png(mask, out_path)
    if cutout:
        save_cutout_png(rgb, mask, cutout)
    summary = {
        "image": str(image),
        "width": rgb.shape[1],
        "height": rgb.shape[0],
        "model": manifest.id,
        "score": round(score, 4),
        "area": int(mask.sum()),
        "bbox": bbox(mask),
        "mask": str(out_path),
        "cutout": str(cutout) if cutout else None,
    }
    if as_json:
        print(json.dumps(summary))
    else:
        out.print(f"mask: {out_path} ({summary['area']:,} px, score {summary['score']})")


def _parse_numbers(text: str, count, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    fits = len(values) in count if isinstance(count, tuple) else len(values) == count
    if not values or not fits:
        want = " or ".join(map(str, count)) if isinstance(count, tuple) else count
        raise Sam2WebError(f"{option} {text!r}: expected {want} comma-separated numbers")
    return values


def _parse_points(specs: list[str]):
    points, labels = [], []
    for spec in specs:
        values = _parse_numbers(spec, (2, 3), "--point")
        label = int(values[2]) if len(values) == 3 else 1
        if len(values) == 3 and values[2] not in (0, 1):
            raise Sam2WebError(f"--point {spec!r}: LABEL must be 1 (positive) or 0 (negative)")
        points.append(values[:2])
        labels.append(label)
    return points, labels


class _PromptOrderCommand(typer.core.TyperCommand):
    """A command that also records the order its options were given in (ctx.meta), so repeated
    options can be read as groups: `--obj 1 --frame 0 --point ... --obj 2 ...`."""

    def make_parser(self, ctx):
        parser = super().make_parser(ctx)
        parse = parser.parse_args

        def parse_in_order(args):
            opts, rest, order = parse(args)
            ctx.meta["sam2web.option_order"] = [p.name for p in order]
            return opts, rest, order

        parser.parse_args = parse_in_order
        return parser


TRACK_FORMATS = ("png", "coco", "mp4", "cvat")


def _check_track_formats(values: list[str]) -> list[str]:
    for value in values:
        if value not in TRACK_FORMATS:
            raise typer.BadParameter(
                f"unknown format {value!r}; choose from {', '.join(TRACK_FORMATS)} (repeat the "
                "option for several: --format png --format mp4)"
            )
    return list(dict.fromkeys(values))


@app.command(cls=_PromptOrderCommand)
def track(
    ctx: typer.Context,
    video: Path = typer.Argument(
        ..., help="Video file (mp4, webm, mov, mkv, avi) or a folder of JPEG/PNG frames."
    ),
    obj: list[int] = typer.Option(
        [],
        "--obj",
        metavar="ID",
        help="Object id (1-255); the --frame/--point/--box after it are this object's "
        "(default 1). Repeat for more objects.",
    ),
    frame: list[int] = typer.Option(
        [],
        "--frame",
        metavar="N",
        help="Frame index (0-based) of the --point/--box after it (default 0; it stays in "
        "effect until the next --frame).",
    ),
    point: list[str] = typer.Option(
        [],
        "--point",
        metavar="X,Y[,LABEL]",
        help="A click in pixels; LABEL 1 positive (default) or 0 negative. Repeat for more.",
    ),
    box: list[str] = typer.Option(
        [], "--box", metavar="X0,Y0,X1,Y1", help="A box in pixels (one per object and frame)."
    ),
    model: str | None = typer.Option(
        None, help="Installed model id with video graphs (default: the best installed one)."
    ),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the results."),
    formats: list[str] = typer.Option(
        ["png"],
        "--format",
        metavar="FORMAT",
        callback=_check_track_formats,
        help="png (OUT/masks/00000.png...), coco (OUT/tracks.json), mp4 (OUT/overlay.mp4) or "
        "cvat (OUT/tracks.xml, CVAT for video); "
        "repeat for several.",
    ),
    reverse: bool = typer.Option(False, help="Track backwards in time."),
    start: int | None = typer.Option(
        None,
        help="First frame to track (default: the first prompted frame; the last with --reverse).",
    ),
    end: int | None = typer.Option(
        None,
        help="Last frame to track, included (default: the video's last frame; its first "
        "with --reverse).",
    ),
    force: bool = typer.Option(False, help="Replace earlier results in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print a summary as JSON."),
    models: Path | None = StoreOption,
    builtin: bool = BuiltinOption,
):
    """Track objects through a video from clicks and boxes on any frames.

    Prompts are read in order: --obj ID starts an object's prompts, and
    --frame N sets the frame of the --point/--box after it. For example

      sam2web track clip.mp4 --out res
        --obj 1 --frame 0 --point 210,350 --point 250,220,0
        --obj 2 --frame 5 --box 300,0,500,400 --format png --format mp4

    tracks object 1 (a positive and a negative click on frame 0) and
    object 2 (a box on frame 5). An object can have several --frame groups
    (clicks on several frames).
    """
    from sam2web import track_run
    from sam2web.errors import BadPromptError
    from sam2web.predict.video_frames import open_video

    groups = _prompt_groups(ctx.meta.get("sam2web.option_order", []), obj, frame, point, box)
    if "png" in formats and any(o > 255 for o, _ in groups):
        raise BadPromptError("object ids must be 1 to 255 for --format png (a palette index)")
    frames = open_video(video)
    n = len(frames)
    tracked = [0]  # frames written so far
    try:
        start, todo = track_run.plan(frames, groups, start, end, reverse)
        manifest = _video_model(_store(models, builtin), model)
        from sam2web.predict.track_outputs import open_writers, prepare_out_dir

        prepare_out_dir(out_dir, formats, force=force)
        from sam2web.predict.video import VideoPredictor

        announce_model(manifest, quiet=True)  # the built-in model cannot track: no note for it
        predictor = VideoPredictor.from_bundle(manifest.root)
        results = track_run.propagate(predictor, frames, groups, start, end, reverse)
        writers = open_writers(
            out_dir,
            formats,
            height=frames.height,
            width=frames.width,
            fps=frames.fps,
            video=str(video.name),
            num_frames=n,
            model=manifest.id,
        )
        done = _track_with_progress(results, writers, frames, todo, as_json, tracked)
    except KeyboardInterrupt:
        err.print(
            f"interrupted after {tracked[0]} tracked frames: their results in {out_dir} are "
            "complete, valid files"
            if tracked[0]
            else "interrupted before any frame was tracked"
        )
        raise typer.Exit(130) from None
    except Sam2WebError as exc:
        if tracked[0]:
            raise type(exc)(
                f"{exc} (the results of the {tracked[0]} frames tracked before it are in {out_dir})"
            ) from None
        raise
    finally:
        frames.close()
    summary = {
        "video": str(video),
        "frames": n,
        "width": frames.width,
        "height": frames.height,
        "fps": round(frames.fps, 3),
        "model": manifest.id,
        "objects": sorted({o for o, _ in groups}),
        "tracked": done,
        "start": start,
        "reverse": reverse,
        "outputs": {
            f: str(p) for f, p in zip(formats, _output_paths(out_dir, formats), strict=True)
        },
    }
    if as_json:
        print(json.dumps(summary))
    else:
        out.print(f"tracked {len(summary['objects'])} object(s) over {done} frames: {out_dir}")
        if not done:
            err.print("[yellow]nothing to track: --reverse from frame 0 has no earlier frames")


def _output_paths(out_dir: Path, formats):
    from sam2web.predict.track_outputs import output_paths

    return output_paths(out_dir, formats)


def _prompt_groups(order: list[str], objs, frames, points, boxes) -> dict:
    """The prompts in command-line order -> {(obj_id, frame_idx): {points, labels, box}}."""
    from sam2web.errors import BadPromptError

    values = {"obj": iter(objs), "frame": iter(frames), "point": iter(points), "box": iter(boxes)}
    groups: dict[tuple[int, int], dict] = {}
    obj_id, frame_idx = 1, 0
    pending = ""  # the --obj/--frame given since the last prompt
    for name in order:
        if name not in values:
            continue
        value = next(values[name])
        if name == "obj":
            if pending:
                raise BadPromptError(f"{pending} has no --point or --box after it")
            if value < 1:
                raise BadPromptError(f"--obj {value}: object ids are positive integers")
            obj_id, pending = value, f"--obj {value}"
        elif name == "frame":
            if "--frame" in pending:
                raise BadPromptError(f"{pending} has no --point or --box after it")
            if value < 0:
                raise BadPromptError(f"--frame {value}: frame indices start at 0")
            frame_idx, pending = value, f"{pending} --frame {value}".strip()
        else:
            empty = {"points": [], "labels": [], "box": None}
            group = groups.setdefault((obj_id, frame_idx), empty)
            pending = ""
            if name == "point":
                (xy,), (label,) = _parse_points([value])
                group["points"].append(xy)
                group["labels"].append(label)
            else:
                if group["box"] is not None:
                    raise BadPromptError(
                        f"object {obj_id} has two --box on frame {frame_idx} (one box per object "
                        "and frame)"
                    )
                group["box"] = _parse_numbers(value, 4, "--box")
    if pending:
        raise BadPromptError(f"{pending} has no --point or --box after it")
    if not groups:
        raise BadPromptError(
            "give at least one --point X,Y or --box X0,Y0,X1,Y1 (after --frame N, default 0)"
        )
    return groups


def _video_model(store, model: str | None):
    """The named model (it must have video graphs), or the best installed one that has them."""
    if model is not None:
        manifest = store.get(model)
        manifest.require("video")
        return manifest
    best = store.get(None)  # says how to add a model when there is none
    for manifest in store.list():
        if "video" in manifest.capabilities:
            return manifest
    best.require("video")  # none has video graphs: says how to get them
    return best


def _track_with_progress(results, writers, frames, total: int, quiet: bool, tracked) -> int:
    from sam2web.predict.track_outputs import write_tracks
    from sam2web.progress_bar import rate_progress

    progress = rate_progress("tracking", "frames", err, disable=quiet)
    with progress:
        task = progress.add_task("track", total=total)

        def on_frame(frame_idx: int) -> None:
            tracked[0] += 1
            progress.advance(task)

        return write_tracks(results, writers, frames, on_frame=on_frame)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 for the LAN)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    open_browser: bool = typer.Option(False, "--open", help="Open the app in the browser."),
    https: bool = typer.Option(
        False,
        help="Serve over HTTPS with a self-signed certificate "
        "(WebGPU needs a secure context on other devices).",
    ),
    models: Path | None = StoreOption,
    builtin: bool = BuiltinOption,
):
    """Serve the in-browser SAM2 app and the installed models on this machine."""
    import socket
    import threading
    import webbrowser

    import uvicorn

    from sam2web.server.app import create_app

    store = _store(models, builtin)
    app_ = create_app(store)
    ssl = {}
    scheme = "https" if https else "http"
    if https:
        from platformdirs import user_config_dir

        from sam2web.server.tls import lan_addresses, self_signed_certificate

        cert, key = self_signed_certificate(
            Path(user_config_dir("sam2web")) / "tls", [host, *lan_addresses()]
        )
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    with socket.socket() as probe:  # a clear message instead of uvicorn's errno
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise Sam2WebError(
                f"cannot listen on {host}:{port} ({exc.strerror}); try another --port"
            ) from None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"{scheme}://{shown}:{port}/"
    from sam2web.store import HOW_TO_ADD, is_builtin

    available = store.list()
    installed = [m for m in available if not is_builtin(m)]
    out.print(f"sam2web serving {url}  (models: {store.root}, {len(installed)} installed)")
    if not available:
        out.print(f"[yellow]No models installed yet.[/yellow] {HOW_TO_ADD}")
    elif not installed:
        out.print(
            f"No SAM2 model installed yet: using the built-in {available[0].label}.\n{HOW_TO_ADD}",
            highlight=False,
        )
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app_, host=host, port=port, log_level="warning", **ssl)


@models_app.command("list")
def models_list(
    models: Path | None = StoreOption,
    as_json: bool = typer.Option(False, "--json"),
    builtin: bool = BuiltinOption,
):
    """Show installed models (and the built-in one)."""
    from sam2web.manifest import describe_bundle
    from sam2web.store import HOW_TO_ADD, is_builtin

    store = _store(models, builtin)
    manifests = store.list()
    if as_json:
        # The server's /api/models entries start from the same summary.
        print(json.dumps([{**describe_bundle(m), "path": str(m.root)} for m in manifests]))
        return
    if not manifests:
        out.print(f"No models installed in {store.root}.\n{HOW_TO_ADD}")
        return
    table = Table(title=f"models in {store.root}")
    for column in ("id", "model", "precision", "size", "notes"):
        table.add_column(column)
    for i, m in enumerate(manifests):
        notes = ["default"] if i == 0 else []
        if m.random_weights:
            notes.append("random weights: test only")
        if is_builtin(m):
            notes.append(f"built in: {m.label}")
        table.add_row(
            m.id,
            m.model_id or "?",
            m.precision or "?",
            f"{m.total_bytes() / 1e6:.1f} MB",
            ", ".join(notes),
        )
    out.print(table)
    if all(is_builtin(m) for m in manifests):
        out.print(HOW_TO_ADD, highlight=False)


@models_app.command("add")
def models_add(
    bundle: Path = typer.Argument(..., help="A bundle directory (with manifest.json)."),
    models: Path | None = StoreOption,
    force: bool = typer.Option(False, help="Replace an installed model of that id."),
    allow_random_weights: bool = typer.Option(False, help="Accept a test model."),
):
    """Install a bundle (every file is checked against its sha256)."""
    manifest = _store(models).add(bundle, allow_random_weights=allow_random_weights, force=force)
    out.print(f"installed {manifest.id} ({manifest.total_bytes() / 1e6:.1f} MB)")


@models_app.command("convert")
def models_convert(
    model_id: str = typer.Argument(..., help="An installed fp32 model (or the built-in one)."),
    precision: list[str] = typer.Option(
        ["fp16"],
        callback=_check_convert_precisions,
        help="fp16, fp16w or int8; repeat for several (--precision fp16 --precision int8).",
    ),
    models: Path | None = StoreOption,
    force: bool = typer.Option(False, help="Replace an installed model of that id."),
):
    """Install a reduced-precision copy of a model: fp16 (fp16 arithmetic; used automatically on
    GPUs with shader-f16), fp16w (fp16 weights, fp32 arithmetic: any GPU or CPU) or weight-only
    int8. At most half the download of fp32."""
    import tempfile

    from sam2web.export.bundle import derive_precision

    store = _store(models)
    source = store.get(model_id)  # checks the id: a plain name, not a path
    store.root.mkdir(parents=True, exist_ok=True)
    for p in precision:
        # Converted inside the store (a hidden directory the listing skips), then installed.
        with tempfile.TemporaryDirectory(prefix=".convert-", dir=store.root) as tmp:
            derived = derive_precision(source.root, p, Path(tmp))
            manifest = store.add(derived, allow_random_weights=source.random_weights, force=force)
        out.print(
            f"installed {manifest.id} ({manifest.total_bytes() / 1e6:.1f} MB, "
            f"{manifest.total_bytes() / source.total_bytes():.0%} of {source.id})"
        )


@models_app.command("remove")
def models_remove(
    model_id: str = typer.Argument(..., help="An installed model's id."),
    models: Path | None = StoreOption,
):
    """Remove an installed model (a symlinked one: the link, not what it points to)."""
    link = _store(models).remove(model_id)
    out.print(
        f"removed {model_id}" + (f" (a link; {link} is kept)" if link else ""), highlight=False
    )


def _register_commands() -> None:
    from sam2web.cli_batch import batch_app
    from sam2web.cli_convert import convert
    from sam2web.cli_site import build_site

    app.command()(convert)
    app.command("build-site")(build_site)
    app.add_typer(batch_app, name="batch")


_register_commands()


def main(argv: list[str] | None = None) -> None:
    try:
        # Not standalone: sam2web's own errors are printed below; typer returns the code of an
        # Exit (--help and friends) instead of raising it.
        code = app(
            args=sys.argv[1:] if argv is None else list(argv),
            prog_name="sam2web",
            standalone_mode=False,
        )
    except Sam2WebError as exc:
        err.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except typer.TyperException as exc:
        # Command-line mistakes. typer vendors its own click (typer._click): its exceptions derive
        # from typer.TyperException, not from the standalone click's ClickException. Usage errors
        # show the usage line, "Try '... --help' for help." and the error (exit code 2).
        if hasattr(exc, "show"):
            exc.show()
        else:
            err.print(f"Error: {exc.format_message()}", highlight=False, markup=False)
        sys.exit(exc.exit_code)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
