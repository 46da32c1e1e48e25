"""Compare a rendered tree with what is on disk: classified drift and a unified diff.

Every difference falls in one class:

- `missing`: the render produces the file, the disk does not have it;
- `stale`: the file on disk is an older render (it still matches the manifest, or no
  manifest claims it) and differs from the new one;
- `hand-edited`: the file on disk no longer matches the hash the manifest recorded, so
  someone edited generated code;
- `orphan`: the file is on disk (listed in the manifest, or lying inside a generated
  package) but the render no longer produces it.

This module is pure apart from reading the output folder; the writer and the CLI use it.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from atlas_gen.render.manifest import MANIFEST_NAME, Manifest, digest

_IGNORED_PARTS = frozenset({"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"})


class DriftKind(enum.StrEnum):
    """Why a generated file differs from a fresh render."""

    MISSING = "missing"
    STALE = "stale"
    HAND_EDITED = "hand-edited"
    ORPHAN = "orphan"


@dataclass(frozen=True, order=True)
class Drift:
    """One file that differs from a fresh render."""

    path: str
    kind: DriftKind


@dataclass(frozen=True)
class DriftReport:
    """Every drifted file (sorted by path) and the unified diff of disk against render."""

    drifts: tuple[Drift, ...]
    diff: str

    @property
    def clean(self) -> bool:
        """True when the disk matches the render byte for byte."""
        return not self.drifts

    def of_kind(self, kind: DriftKind) -> list[str]:
        """The paths of one class of drift."""
        return [d.path for d in self.drifts if d.kind is kind]


def read_text(path: Path) -> str | None:
    """A file's text, or None when it does not exist or is not UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def package_roots(rendered: Mapping[str, str]) -> set[str]:
    """Top-level folders the render owns entirely (one per generated package)."""
    return {p.split("/", 1)[0] for p in rendered if "/" in p}


def untracked_files(out_dir: Path, roots: set[str]) -> Iterator[str]:
    """Files inside the owned folders, relative to `out_dir`, skipping caches."""
    for root in sorted(roots):
        base = out_dir / root
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(out_dir)
            if path.is_file() and not _IGNORED_PARTS.intersection(rel.parts) and path.suffix != ".pyc":
                yield rel.as_posix()


def classify(
    out_dir: Path, rendered: Mapping[str, str], manifest: Manifest
) -> list[tuple[Drift, str | None]]:
    """Classify every difference; each drift comes with the text on disk (None when absent)."""
    found: list[tuple[Drift, str | None]] = []
    for path, text in sorted(rendered.items()):
        on_disk = read_text(out_dir / path)
        if on_disk is None:
            found.append((Drift(path, DriftKind.MISSING), None))
        elif on_disk != text:
            recorded = manifest.files.get(path)
            edited = path != MANIFEST_NAME and recorded is not None and recorded != digest(on_disk)
            found.append((Drift(path, DriftKind.HAND_EDITED if edited else DriftKind.STALE), on_disk))
    leftovers = set(manifest.files) | set(untracked_files(out_dir, package_roots(rendered)))
    for path in sorted(leftovers - set(rendered)):
        on_disk = read_text(out_dir / path)
        if on_disk is not None:
            found.append((Drift(path, DriftKind.ORPHAN), on_disk))
    return found


def unified_diff(path: str, old: str | None, new: str | None) -> str:
    """A git-style unified diff of one file (`/dev/null` for an absent side)."""
    before = "/dev/null" if old is None else f"a/{path}"
    after = "/dev/null" if new is None else f"b/{path}"
    lines = difflib.unified_diff(
        (old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True), before, after
    )
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


def check(out_dir: Path, rendered: Mapping[str, str]) -> DriftReport:
    """Compare `out_dir` with a rendered tree (which includes its manifest).

    Args:
        out_dir: the output folder, e.g. `generated/`.
        rendered: relative path -> text, as `render_tree` returns it.

    Returns:
        The classified drift and the unified diff; `clean` is True when nothing differs.
    """
    manifest = Manifest.read(out_dir)
    found = classify(out_dir, rendered, manifest)
    diff = "".join(unified_diff(d.path, old, rendered.get(d.path)) for d, old in found)
    return DriftReport(tuple(d for d, _ in found), diff)
