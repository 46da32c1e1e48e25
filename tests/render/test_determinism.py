"""Same specs, same bytes: renders are repeatable and independent of input order."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest

from atlas_gen.render import MANIFEST_NAME, load_documents, render_tree

# Sections whose entries the generator orders itself (fields and message types keep spec order).
SORTED_SECTIONS = ("models", "state", "locks", "messages", "consumes", "produces", "endpoints", "tasks")


def _reversed_sections(document: dict[str, Any]) -> dict[str, Any]:
    shuffled = copy.deepcopy(document)
    for section in SORTED_SECTIONS:
        if isinstance(shuffled.get(section), dict):
            shuffled[section] = dict(reversed(list(shuffled[section].items())))
    return dict(reversed(list(shuffled.items())))


def test_rendering_twice_gives_identical_bytes(fixtures_dir: Path) -> None:
    """Two renders of the same specs produce exactly the same tree."""
    documents = load_documents(fixtures_dir / "kitchen_sink" / "specs")
    assert render_tree(documents) == render_tree(documents)


def test_input_order_does_not_change_output(fixtures_dir: Path) -> None:
    """Shuffled spec files and reversed sections render to the same bytes."""
    documents = [
        d for case in ("kitchen_sink", "parties") for d in load_documents(fixtures_dir / case / "specs")
    ]
    expected = render_tree(documents)
    shuffled = [_reversed_sections(d) for d in documents]
    random.Random(7).shuffle(shuffled)
    assert render_tree(shuffled) == expected


def test_manifest_is_sorted_and_free_of_timestamps_and_paths(
    rendered_cases: dict[str, dict[str, str]],
) -> None:
    """The manifest lists every generated file, sorted, with hashes and the version only."""
    tree = rendered_cases["parties"]
    manifest = json.loads(tree[MANIFEST_NAME])
    assert set(manifest) == {"generator", "version", "files"}
    assert list(manifest["files"]) == sorted(p for p in tree if p != MANIFEST_NAME)
    assert all(not p.startswith("/") for p in manifest["files"])
    assert all(len(h) == 64 for h in manifest["files"].values())


def test_formatting_cache_never_changes_output(
    fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renders with an empty, a warm and a corrupted formatting cache give the same bytes."""
    documents = load_documents(fixtures_dir / "parties" / "specs")
    monkeypatch.setenv("ATLAS_GEN_CACHE_DIR", str(tmp_path / "cache"))
    cold = render_tree(documents)
    entries = sorted((tmp_path / "cache").glob("*.json"))
    assert len(entries) == 1
    assert render_tree(documents) == cold
    entries[0].write_text("{not json")
    assert render_tree(documents) == cold
