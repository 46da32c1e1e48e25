"""The `breaking` verb: changes since an older version of the specs that break what runs.

The old version comes from git (`--against REV`: every spec file of the specs folder in
that revision, read with `git ls-tree` and `git show`) or from a folder (`--old DIR`).
Both are loaded and validated like `validate` does; the findings of `atlas_gen.breaking`
are printed like `validate` prints its diagnostics.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated

import typer

from .cli_validate import OutputFormat, SpecsOption, fail_usage, resolve_specs_dir

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .ecosystem import Ecosystem

EXIT_OK, EXIT_BREAKING, EXIT_USAGE = 0, 1, 2
SPEC_SUFFIXES = (".yaml", ".yml")


def register(app: typer.Typer) -> None:
    """Add `breaking` to the app."""
    app.command("breaking")(breaking)


def breaking(
    specs: SpecsOption = None,
    against: Annotated[
        str | None, typer.Option("--against", help="Compare with the specs folder in this git revision.")
    ] = None,
    old: Annotated[Path | None, typer.Option("--old", help="Compare with the specs in this folder.")] = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="`text` (file:line:col lines) or `json`.")
    ] = OutputFormat.text,
) -> None:
    """Report changes since an older version of the specs that break consumers, callers or stored state.

    Exit code 0 when nothing breaks (warnings allowed), 1 when a breaking change is found,
    2 on usage errors or when either version has spec errors.
    """
    from .breaking import breaking_changes
    from .diagnostics import diagnostics_document, has_errors

    if (against is None) == (old is None):
        fail_usage("give exactly one of `--against REV` or `--old DIR`")
    folder = resolve_specs_dir(specs)
    new_ecosystem = _load("new", folder)
    if against is not None:
        old_ecosystem = _load_revision(folder, against)
    else:
        assert old is not None
        old_ecosystem = _load("old", old)
    findings = breaking_changes(old_ecosystem, new_ecosystem)
    if output_format is OutputFormat.json:
        sys.stdout.write(_json(diagnostics_document(findings)))
    else:
        _print_text(findings)
    raise typer.Exit(EXIT_BREAKING if has_errors(findings) else EXIT_OK)


def _load(version: str, folder: Path, shown_as: dict[str, str] | None = None, where: str = "") -> Ecosystem:
    """Load one version; exits 2 when the folder is unusable or the specs have errors.

    Args:
        version: `old` or `new`, for the messages.
        folder: the specs folder.
        shown_as: file path -> the name to show for it (files read from git).
        where: how to name the folder in messages (default: its path).
    """
    from .loader import find_spec_files, load_ecosystem

    where = where or f"`{folder}`"
    try:
        paths = find_spec_files(folder)
    except (FileNotFoundError, NotADirectoryError) as error:
        fail_usage(f"the {version} specs: {error}")
    if not paths:
        fail_usage(f"no spec files (*.yaml, *.yml) in the {version} specs ({where})")
    ecosystem, diagnostics = load_ecosystem(folder)
    if shown_as:
        ecosystem, diagnostics = _renamed(ecosystem, diagnostics, shown_as)
    if ecosystem is None:
        sys.stderr.write(f"atlas-gen: the {version} specs ({where}) have errors:\n")
        sys.stderr.writelines(diagnostic.format() + "\n" for diagnostic in diagnostics)
        raise typer.Exit(EXIT_USAGE)
    return ecosystem


def _renamed(
    ecosystem: Ecosystem | None, diagnostics: list[Diagnostic], names: dict[str, str]
) -> tuple[Ecosystem | None, list[Diagnostic]]:
    """The same ecosystem and diagnostics with file paths shown under other names."""
    from dataclasses import replace

    from .ecosystem import build_ecosystem

    renamed = [
        replace(diagnostic, file=names.get(diagnostic.file, diagnostic.file)) for diagnostic in diagnostics
    ]
    if ecosystem is None:
        return None, renamed
    files = [
        replace(spec_file, path=names.get(spec_file.path, spec_file.path)) for spec_file in ecosystem.files
    ]
    return build_ecosystem(files, complete=ecosystem.complete, rejected=ecosystem.rejected), renamed


def _load_revision(folder: Path, revision: str) -> Ecosystem:
    """The specs of `folder` as they were in a git revision, shown as `REV:path/in/repo.yaml`."""
    if revision.startswith("-"):
        fail_usage(f"`{revision}` is not a git revision")
    with tempfile.TemporaryDirectory(prefix="atlas-gen-breaking-") as scratch:
        names: dict[str, str] = {}
        for path, text in _revision_specs(folder, revision).items():
            target = Path(scratch) / PurePosixPath(path).name
            target.write_bytes(text)
            names[str(target)] = f"{revision}:{path}"
        return _load("old", Path(scratch), names, where=f"`{folder}` at `{revision}`")


def _revision_specs(folder: Path, revision: str) -> dict[str, bytes]:
    """Repository path -> content of each spec file directly in `folder` at `revision`."""
    listing = _git(folder, "ls-tree", "-z", "--full-name", revision).decode("utf-8", "replace")
    found: dict[str, bytes] = {}
    for entry in filter(None, listing.split("\0")):
        meta, _, path = entry.partition("\t")
        if meta.split()[1] == "blob" and PurePosixPath(path).suffix in SPEC_SUFFIXES:
            found[path] = _git(folder, "show", f"{revision}:{path}")
    return found


def _git(folder: Path, *args: str) -> bytes:
    """The output of `git -C folder ARGS`; exits 2 with git's message when it fails."""
    try:
        result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, check=False)
    except OSError as error:
        fail_usage(f"cannot run git: {error}")
    if result.returncode != 0:
        reason = result.stderr.decode("utf-8", "replace").strip().splitlines()
        fail_usage(f"git {args[0]} failed: {reason[0] if reason else f'exit code {result.returncode}'}")
    return result.stdout


def _json(document: object) -> str:
    import json

    return json.dumps(document, indent=2) + "\n"


def _print_text(findings: list[Diagnostic]) -> None:
    from .cli_validate import plural, print_diagnostics
    from .diagnostics import count

    errors, warnings = count(findings, "error"), count(findings, "warning")
    warned = f"{warnings} {plural(warnings, 'warning')}"
    if errors:
        summary = f"{errors} breaking {plural(errors, 'change')}, {warned}"
    else:
        summary = f"no breaking changes, {warned}"
    print_diagnostics(findings, summary, failed=bool(errors))
