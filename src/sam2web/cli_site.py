"""`sam2web build-site`: the app and chosen models as a folder for any static host."""

from __future__ import annotations

from pathlib import Path

import typer


def build_site(
    out: Path = typer.Argument(..., help="New or empty folder (or one build-site made before)."),
    model: list[str] = typer.Option(
        ...,
        "--model",
        help="Installed model id to ship (repeat for several; the first is the default).",
    ),
    models: Path | None = typer.Option(
        None, "--models", envvar="SAM2WEB_MODELS", help="Model store directory."
    ),
    builtin: bool = typer.Option(
        True, "--builtin/--no-builtin", envvar="SAM2WEB_BUILTIN", help="Offer the built-in model."
    ),
    part_mb: int = typer.Option(
        100, "--part-mb", min=1, help="Split model files larger than this (MB) into parts."
    ),
) -> None:
    """Write a static site: cross-origin isolated by a service worker, models verified in the
    browser; serve OUT with any static file server."""
    from sam2web.site.build import build_site as build
    from sam2web.store import ModelStore

    summary = build(out, model, ModelStore(models, builtin=builtin), part_bytes=part_mb * 1_000_000)
    typer.echo(
        f"wrote {summary['files']} files ({summary['bytes'] / 1e6:.1f} MB, models "
        f"{', '.join(summary['models'])}, {summary['parts']} parts) in {summary['out']}"
    )
