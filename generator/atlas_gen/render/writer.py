"""Write a rendered tree to disk: only changed files, prune stale ones, never clobber edits.

The writer is the only part of the render pipeline that touches the output folder. It
refuses, before changing anything, to overwrite or delete a file whose content no longer
matches the manifest (someone edited generated code) or a file the manifest does not own,
unless forced. Files are replaced atomically (write to a sibling, then rename).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from atlas_gen.render.drift import Drift, DriftKind, classify, read_text
from atlas_gen.render.manifest import MANIFEST_NAME, Manifest, digest


class HandEditedError(RuntimeError):
    """Generated files were edited by hand; writing would lose those edits."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        listed = "\n".join(f"  {p}" for p in paths)
        super().__init__(
            f"{len(paths)} generated file(s) differ from what the generator wrote:\n{listed}\n"
            "Move the change into the spec or a handler module, or render with --force to discard it."
        )


@dataclass(frozen=True)
class WriteReport:
    """What a write changed, each list sorted."""

    written: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


def _write(path: Path, text: str, made: set[Path], *, atomic: bool) -> None:
    """Write a file; replacing an existing one goes through a sibling and a rename."""
    if path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        made.add(path.parent)
    if not atomic:
        path.write_text(text, encoding="utf-8", newline="\n")
        return
    tmp = path.with_name(f".{path.name}.atlas-tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)


def _remove_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent


def _blocked(out_dir: Path, drifts: list[Drift], manifest: Manifest) -> list[str]:
    """Paths a write would overwrite or delete although the generator does not own their content."""
    blocked = []
    for drift in drifts:
        owned = drift.path in manifest.files
        edited = drift.kind is DriftKind.HAND_EDITED
        # A file the manifest does not claim is a user's file, unless there is no manifest at all.
        unowned = drift.kind is DriftKind.STALE and not owned and bool(manifest.files)
        edited_orphan = (
            drift.kind is DriftKind.ORPHAN
            and owned
            and _edited(out_dir / drift.path, manifest.files[drift.path])
        )
        if (edited or unowned or edited_orphan) and drift.path != MANIFEST_NAME:
            blocked.append(drift.path)
    return blocked


def _edited(path: Path, recorded: str) -> bool:
    text = read_text(path)
    return text is not None and digest(text) != recorded


def _write_order(path: str) -> tuple[bool, str]:
    """The manifest goes last, so an interrupted write never claims files it did not write."""
    return (path == MANIFEST_NAME, path)


def write_tree(out_dir: Path, rendered: Mapping[str, str], *, force: bool = False) -> WriteReport:
    """Bring `out_dir` in line with a rendered tree (which includes its manifest).

    Args:
        out_dir: the output folder; created when missing.
        rendered: relative path -> text, as `render_tree` returns it.
        force: overwrite hand-edited files and files the manifest does not own.

    Returns:
        The files written and removed.

    Raises:
        HandEditedError: when a file to overwrite or delete was edited, and `force` is off.
            Nothing is written in that case.
    """
    manifest = Manifest.read(out_dir)
    drifts = [drift for drift, _ in classify(out_dir, rendered, manifest)]
    if not force and (blocked := _blocked(out_dir, drifts, manifest)):
        raise HandEditedError(blocked)
    changed = sorted((d.path for d in drifts if d.kind is not DriftKind.ORPHAN), key=_write_order)
    made: set[Path] = set()
    missing = {d.path for d in drifts if d.kind is DriftKind.MISSING}
    for path in changed:
        _write(out_dir / path, rendered[path], made, atomic=path not in missing)
    removed: list[str] = []
    for path in sorted(d.path for d in drifts if d.kind is DriftKind.ORPHAN and d.path in manifest.files):
        target = out_dir / path
        target.unlink()
        removed.append(path)
        _remove_empty_parents(target, out_dir)
    return WriteReport(tuple(changed), tuple(removed), len(rendered) - len(changed))
