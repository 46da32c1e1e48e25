"""The `validate` and `schema` verbs."""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from .diagnostics import Diagnostic

EXIT_OK, EXIT_SPEC_ERRORS, EXIT_USAGE = 0, 1, 2


class OutputFormat(enum.StrEnum):
    """How `validate` prints its diagnostics."""

    text = "text"
    json = "json"


SpecsOption = Annotated[
    Path | None,
    typer.Option("--specs", help="Folder of spec files [default: `specs` or [tool.atlas-gen] specs]."),
]


def register(app: typer.Typer) -> None:
    """Add `validate` and `schema` to the app."""
    app.command("validate")(validate)
    app.command("schema")(schema)


def resolve_specs_dir(specs: Path | None) -> Path:
    """The `--specs` folder, else `[tool.atlas-gen] specs`, else `specs`; exits 2 when unusable."""
    from .config import ProjectConfigError, load_project_config

    if specs is not None:
        return specs
    try:
        return load_project_config().specs
    except ProjectConfigError as error:
        fail_usage(str(error))


def validate(
    specs: SpecsOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="`text` (file:line:col lines) or `json`.")
    ] = OutputFormat.text,
) -> None:
    """Check every spec of a folder, and the ecosystem they form, reporting every problem at once.

    Exit code 0 when valid (warnings allowed), 1 when a spec has errors, 2 on usage errors.
    """
    from .diagnostics import diagnostics_document, has_errors
    from .loader import find_spec_files, load_ecosystem

    folder = resolve_specs_dir(specs)
    try:
        paths = find_spec_files(folder)
    except (FileNotFoundError, NotADirectoryError) as error:
        fail_usage(str(error))
    if not paths:
        fail_usage(f"no spec files (*.yaml, *.yml) in `{folder}`")
    _, diagnostics = load_ecosystem(folder)
    if output_format is OutputFormat.json:
        sys.stdout.write(json.dumps(diagnostics_document(diagnostics), indent=2) + "\n")
    else:
        _print_text(diagnostics, len(paths))
    raise typer.Exit(EXIT_SPEC_ERRORS if has_errors(diagnostics) else EXIT_OK)


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of a spec file (for yaml-language-server and other editors)."""
    from atlas_spec import json_schema

    text = json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


_STYLES = {"error": "bold red", "warning": "bold yellow", "note": "bold cyan"}


def print_diagnostics(diagnostics: list[Diagnostic], summary: str, *, failed: bool) -> None:
    """One styled `file:line:col: severity[code]: message` line each, then `summary`."""
    from rich.console import Console
    from rich.text import Text

    console = Console(soft_wrap=True, highlight=False)
    for diagnostic in diagnostics:
        line = Text()
        line.append(f"{diagnostic.file}:{diagnostic.line}:{diagnostic.column}:", style="bold")
        line.append(" ")
        line.append(f"{diagnostic.severity}[{diagnostic.code}]", style=_STYLES[diagnostic.severity])
        line.append(f": {diagnostic.message}")
        if diagnostic.expected:
            line.append(f" (expected {diagnostic.expected})", style="dim")
        console.print(line)
    console.print(Text(summary, style="bold red" if failed else "bold green"))


def _print_text(diagnostics: list[Diagnostic], files: int) -> None:
    from .diagnostics import count

    errors, warnings = count(diagnostics, "error"), count(diagnostics, "warning")
    noun = "spec file" if files == 1 else "spec files"
    warned = f"{warnings} {plural(warnings, 'warning')}"
    if errors:
        summary = f"{errors} {plural(errors, 'error')}, {warned} in {files} {noun}"
    else:
        summary = f"{files} {noun} valid, {warned}"
    print_diagnostics(diagnostics, summary, failed=bool(errors))


def plural(number: int, word: str) -> str:
    """`word`, with an `s` unless `number` is 1."""
    return word if number == 1 else word + "s"


def fail_usage(message: str) -> NoReturn:
    """Print `atlas-gen: message` to stderr and exit with the usage-error code 2."""
    sys.stderr.write(f"atlas-gen: {message}\n")
    raise typer.Exit(EXIT_USAGE)
