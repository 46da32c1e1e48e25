"""The `atlas-gen` command line: one typer app, verbs registered by their modules.

Each verb module exposes `register(app)`; `VERB_MODULES` lists them. Verb modules keep
their heavy imports inside the command functions so `atlas-gen --help` stays fast.

Exit codes: 0 success (warnings allowed), 1 the specs have errors (or a check failed),
2 usage or internal error.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Annotated

import typer

from . import __version__

EXIT_OK = 0
EXIT_SPEC_ERRORS = 1
EXIT_USAGE = 2

VERB_MODULES = (
    "atlas_gen.cli_validate",
    "atlas_gen.cli_render",
    "atlas_gen.cli_new",
    "atlas_gen.cli_graph",
    "atlas_gen.cli_breaking",
)

app = typer.Typer(
    name="atlas-gen",
    help="Turn declarative YAML service specs into Python microservices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"atlas-gen {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Turn declarative YAML service specs into Python microservices."""


def register_verbs(target: typer.Typer, modules: tuple[str, ...] = VERB_MODULES) -> None:
    """Import each verb module and let it add its commands to `target`."""
    for name in modules:
        import_module(name).register(target)


register_verbs(app)


def main() -> None:
    """Console script entry point: run the app; an unexpected error exits with 2."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as error:  # the last line of defence: never a traceback for the user
        sys.stderr.write(f"atlas-gen: internal error: {type(error).__name__}: {error}\n")
        raise SystemExit(EXIT_USAGE) from None


if __name__ == "__main__":
    main()
