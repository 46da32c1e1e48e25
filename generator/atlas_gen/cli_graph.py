"""The `graph` verb: the ecosystem's topology as Mermaid or Graphviz text."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from .cli_validate import SpecsOption, resolve_specs_dir

EXIT_SPEC_ERRORS = 1


class GraphFormat(enum.StrEnum):
    """How `graph` writes the topology."""

    mermaid = "mermaid"
    dot = "dot"


def register(app: typer.Typer) -> None:
    """Add `graph` to the app."""
    app.command("graph")(graph)


def graph(
    specs: SpecsOption = None,
    output_format: Annotated[
        GraphFormat, typer.Option("--format", help="`mermaid` (Markdown) or `dot` (Graphviz).")
    ] = GraphFormat.mermaid,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the topology: services, the topics they produce and consume, calls and sagas.

    Exit code 0, 1 when the specs have errors (printed to stderr), 2 on usage errors.
    """
    from .diagnostics import has_errors
    from .loader import load_ecosystem
    from .topology import dot, mermaid, topology

    ecosystem, diagnostics = load_ecosystem(resolve_specs_dir(specs))
    if ecosystem is None or has_errors(diagnostics):
        for diagnostic in diagnostics:
            sys.stderr.write(diagnostic.format() + "\n")
        raise typer.Exit(EXIT_SPEC_ERRORS)
    writer = mermaid if output_format is GraphFormat.mermaid else dot
    text = writer(topology(ecosystem))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
