"""The writer and the drift check: changed files only, stale files pruned, edits never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_gen.render import MANIFEST_NAME, DriftKind, HandEditedError, check, write_tree


def _tree(**files: str) -> dict[str, str]:
    from atlas_gen.render.manifest import with_manifest

    return with_manifest({path.replace("__", "/"): text for path, text in files.items()})


def test_write_then_check_is_clean(tmp_path: Path) -> None:
    """A freshly written tree has no drift and the manifest is written too."""
    tree = _tree(pkg__a_py="a = 1\n", pkg__b_py="b = 2\n")
    report = write_tree(tmp_path, tree)
    assert sorted(report.written) == sorted(tree)
    assert (tmp_path / MANIFEST_NAME).is_file()
    assert check(tmp_path, tree).clean


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    """A second write of the same tree touches no file."""
    tree = _tree(pkg__a_py="a = 1\n")
    write_tree(tmp_path, tree)
    before = (tmp_path / "pkg/a_py").stat().st_mtime_ns
    report = write_tree(tmp_path, tree)
    assert report.written == () and report.unchanged == len(tree)
    assert (tmp_path / "pkg/a_py").stat().st_mtime_ns == before


def test_check_classifies_missing_stale_orphan_and_hand_edited(tmp_path: Path) -> None:
    """Each kind of drift is reported under its own class, with a unified diff."""
    write_tree(
        tmp_path, _tree(pkg__keep="same\n", pkg__old="old\n", pkg__edit="generated\n", pkg__gone="x\n")
    )
    (tmp_path / "pkg/edit").write_text("edited by hand\n")
    (tmp_path / "pkg/gone").unlink()
    (tmp_path / "pkg/stray").write_text("dropped here\n")
    new = _tree(
        pkg__keep="same\n", pkg__old="new\n", pkg__edit="generated v2\n", pkg__gone="x\n", pkg__added="+\n"
    )
    report = check(tmp_path, new)
    assert report.of_kind(DriftKind.MISSING) == ["pkg/added", "pkg/gone"]
    assert report.of_kind(DriftKind.STALE) == [MANIFEST_NAME, "pkg/old"]
    assert report.of_kind(DriftKind.HAND_EDITED) == ["pkg/edit"]
    assert report.of_kind(DriftKind.ORPHAN) == ["pkg/stray"]
    assert "--- a/pkg/old\n+++ b/pkg/old\n" in report.diff
    assert "-old\n+new\n" in report.diff
    assert "--- /dev/null\n+++ b/pkg/added\n" in report.diff


def test_files_no_longer_rendered_are_pruned(tmp_path: Path) -> None:
    """A file of the old manifest that the new render lacks is deleted, with its empty folder."""
    write_tree(tmp_path, _tree(pkg__a="a\n", gone__b="b\n"))
    report = write_tree(tmp_path, _tree(pkg__a="a\n"))
    assert report.removed == ("gone/b",)
    assert not (tmp_path / "gone").exists()
    assert check(tmp_path, _tree(pkg__a="a\n")).clean


def test_hand_edited_file_blocks_the_write_until_forced(tmp_path: Path) -> None:
    """Writing over a hand-edited file fails, changing nothing, unless forced."""
    write_tree(tmp_path, _tree(pkg__a="v1\n", pkg__b="b1\n"))
    (tmp_path / "pkg/a").write_text("mine\n")
    new = _tree(pkg__a="v2\n", pkg__b="b2\n")
    with pytest.raises(HandEditedError) as caught:
        write_tree(tmp_path, new)
    assert caught.value.paths == ["pkg/a"]
    assert (tmp_path / "pkg/b").read_text() == "b1\n"
    write_tree(tmp_path, new, force=True)
    assert (tmp_path / "pkg/a").read_text() == "v2\n"
    assert check(tmp_path, new).clean


def test_hand_edited_orphan_is_not_deleted(tmp_path: Path) -> None:
    """A generated file edited by hand is kept when the render drops it, unless forced."""
    write_tree(tmp_path, _tree(pkg__a="a\n", pkg__b="b\n"))
    (tmp_path / "pkg/b").write_text("precious\n")
    with pytest.raises(HandEditedError):
        write_tree(tmp_path, _tree(pkg__a="a\n"))
    assert (tmp_path / "pkg/b").read_text() == "precious\n"


def test_user_file_not_in_manifest_is_never_overwritten(tmp_path: Path) -> None:
    """A file the manifest does not own blocks a write that would replace it."""
    write_tree(tmp_path, _tree(pkg__a="a\n"))
    (tmp_path / "pkg/notes.md").write_text("my notes\n")
    with pytest.raises(HandEditedError):
        write_tree(tmp_path, _tree(pkg__a="a\n", **{"pkg__notes.md": "generated\n"}))
    assert (tmp_path / "pkg/notes.md").read_text() == "my notes\n"
