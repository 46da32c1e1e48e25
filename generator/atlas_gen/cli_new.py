"""The `new` verb: a new ecosystem workspace from the shipped copier template."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_USAGE = 2


def register(app: typer.Typer) -> None:
    """Add `new` to the app."""
    app.command("new")(new)


def new(
    destination: Annotated[Path, typer.Argument(help="Folder of the new workspace (must be empty or new).")],
    service: Annotated[str, typer.Option("--service", help="Name of the first service.")] = "inventory",
    name: Annotated[
        str | None, typer.Option("--name", help="Project name (default: the folder's name).")
    ] = None,
) -> None:
    """Make a new workspace: pyproject, a first spec, its handler package, CI and a Makefile.

    The workspace records the template's answers, so `copier update` later brings template
    upgrades with a three-way merge that keeps your edits.
    """
    import copier

    from atlas_templates import WORKSPACE

    if destination.exists() and any(destination.iterdir()):
        typer.echo(f"atlas-gen: {destination} is not empty", err=True)
        raise typer.Exit(EXIT_USAGE)
    data = {"project_name": name or destination.resolve().name, "first_service": service}
    try:
        copier.run_copy(str(WORKSPACE), destination, data=data, defaults=True, quiet=True)
    except ValueError as error:  # copier's answer validation
        typer.echo(f"atlas-gen: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"created {destination}: specs/{service}.yaml; next: cd {destination} && atlas-gen render")
