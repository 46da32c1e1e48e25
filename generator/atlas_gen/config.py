"""Project defaults from `[tool.atlas-gen]` in the current folder's pyproject.toml.

Keys: `specs` (default `specs`), `out` (default `generated`), `handlers` (the folder of
hand-written handler modules, added to the import path by `run`; default none).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ProjectConfigError(ValueError):
    """pyproject.toml exists but `[tool.atlas-gen]` cannot be used."""


@dataclass(frozen=True)
class ProjectConfig:
    """Folder defaults of the CLI verbs, relative to the project root (the cwd)."""

    specs: Path = Path("specs")
    out: Path = Path("generated")
    handlers: Path | None = None


def load_project_config(root: Path | None = None) -> ProjectConfig:
    """Read `[tool.atlas-gen]` from `root/pyproject.toml` (root defaults to the cwd).

    Returns:
        The configured folders, or the defaults when there is no file or no table.

    Raises:
        ProjectConfigError: the file is not valid TOML or a key has the wrong type.
    """
    path = (root or Path()) / "pyproject.toml"
    if not path.is_file():
        return ProjectConfig()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProjectConfigError(f"{path}: not valid TOML: {error}") from None
    table: Any = document.get("tool", {}).get("atlas-gen", {})
    if not isinstance(table, dict):
        raise ProjectConfigError(f"{path}: [tool.atlas-gen] must be a table")
    defaults = ProjectConfig()
    return ProjectConfig(
        specs=_folder(path, table, "specs") or defaults.specs,
        out=_folder(path, table, "out") or defaults.out,
        handlers=_folder(path, table, "handlers"),
    )


def _folder(path: Path, table: dict[str, Any], key: str) -> Path | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ProjectConfigError(f"{path}: [tool.atlas-gen] {key} must be a folder name (a string)")
    return Path(value)
