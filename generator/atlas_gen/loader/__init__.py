"""Loading spec files: YAML with positions, then the schema, then ecosystem rules.

`load_ecosystem(specs_dir)` is the entry point: every error of every file in one run.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from atlas_spec import ServiceSpec

from ..diagnostics import Diagnostic, has_errors, sort_diagnostics
from ..ecosystem import Ecosystem, SpecFile, build_ecosystem
from .schema_errors import schema_diagnostics
from .source_map import Position, SourceMap
from .yaml_source import ParsedYaml, parse_yaml

__all__ = [
    "Position",
    "SourceMap",
    "find_spec_files",
    "load_ecosystem",
    "load_spec_file",
    "load_spec_text",
]

SPEC_SUFFIXES = (".yaml", ".yml")
_SERVICE_LINE = re.compile(r"^service:[ \t]*([a-z][a-z0-9-]*)[ \t]*(?:#.*)?$", re.MULTILINE)


def load_spec_text(text: str, file: str) -> tuple[SpecFile | None, list[Diagnostic]]:
    """Parse and schema-check one spec given as text.

    Args:
        text: YAML source.
        file: the name diagnostics use for it.

    Returns:
        The spec file (None when it has errors) and the diagnostics.
    """
    spec_file, diagnostics, _ = _load_text(text, file)
    return spec_file, diagnostics


def _load_text(text: str, file: str) -> tuple[SpecFile | None, list[Diagnostic], str | None]:
    # The third item is the `service` name of a rejected file, when it can be read.
    parsed = parse_yaml(text, file)
    if not isinstance(parsed, ParsedYaml):
        # The YAML is broken, but a plain `service: name` line still tells who it was.
        declared = _SERVICE_LINE.search(text)
        return None, parsed, declared.group(1) if declared else None
    try:
        spec = ServiceSpec.model_validate(parsed.data)
    except ValidationError as error:
        name = parsed.data.get("service")
        return None, schema_diagnostics(error, file, parsed.source), name if isinstance(name, str) else None
    return SpecFile(file, spec, parsed.source), [], None


def load_spec_file(path: Path) -> tuple[SpecFile | None, list[Diagnostic]]:
    """Read, parse and schema-check one spec file (named in diagnostics as `path`)."""
    spec_file, diagnostics, _ = _load_path(path)
    return spec_file, diagnostics


def _load_path(path: Path) -> tuple[SpecFile | None, list[Diagnostic], str | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return None, [Diagnostic(str(path), 1, 1, "error", "E008", f"not UTF-8 text ({error.reason})")], None
    except OSError as error:
        return (
            None,
            [Diagnostic(str(path), 1, 1, "error", "E008", f"cannot read the file: {error.strerror}")],
            None,
        )
    return _load_text(text, str(path))


def find_spec_files(specs_dir: Path) -> list[Path]:
    """The `*.yaml` / `*.yml` files directly in `specs_dir`, sorted by name.

    Raises:
        FileNotFoundError: `specs_dir` does not exist.
        NotADirectoryError: `specs_dir` is not a directory.
    """
    if not specs_dir.exists():
        raise FileNotFoundError(f"the specs folder `{specs_dir}` does not exist")
    if not specs_dir.is_dir():
        raise NotADirectoryError(f"`{specs_dir}` is not a folder")
    return sorted(path for path in specs_dir.iterdir() if path.suffix in SPEC_SUFFIXES and path.is_file())


def load_ecosystem(specs_dir: Path | str) -> tuple[Ecosystem | None, list[Diagnostic]]:
    """Load and validate every spec of a folder at once.

    Args:
        specs_dir: the folder holding one YAML file per service.

    Returns:
        The ecosystem (None when any error was found) and every diagnostic, sorted by
        file and position. Warnings alone do not withhold the ecosystem.

    Raises:
        FileNotFoundError: the folder does not exist.
        NotADirectoryError: the path is not a folder.
    """
    from ..validate import validate_ecosystem

    files: list[SpecFile] = []
    diagnostics: list[Diagnostic] = []
    paths = find_spec_files(Path(specs_dir))
    rejected: set[str] = set()
    for path in paths:
        spec_file, found, rejected_name = _load_path(path)
        diagnostics.extend(found)
        if spec_file is not None:
            files.append(spec_file)
        elif rejected_name is not None:
            rejected.add(rejected_name)
    ecosystem = build_ecosystem(files, complete=len(files) == len(paths), rejected=frozenset(rejected))
    diagnostics.extend(validate_ecosystem(ecosystem))
    diagnostics = sort_diagnostics(diagnostics)
    return (None if has_errors(diagnostics) else ecosystem), diagnostics
