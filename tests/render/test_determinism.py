"""Same specs, same bytes: renders are repeatable and independent of input order."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from atlas_gen.render import MANIFEST_NAME, render_tree
from atlas_spec import ServiceSpec

LoadSpecs = Callable[[Path], list[ServiceSpec]]

# Sections whose entries the generator orders itself (fields and message types keep spec order).
SORTED_SECTIONS = ("models", "state", "locks", "messages", "consumes", "produces", "endpoints", "tasks")


def _reversed_sections(spec: ServiceSpec) -> ServiceSpec:
    """The same spec with the entries of every section the generator sorts in reverse order."""
    reversed_sections = {
        section: dict(reversed(getattr(spec, section).items()))
        for section in SORTED_SECTIONS
        if section in spec.model_fields_set
    }
    return spec.model_copy(update=reversed_sections)


def test_rendering_twice_gives_identical_bytes(fixtures_dir: Path, load_specs: LoadSpecs) -> None:
    """Two renders of the same specs produce exactly the same tree."""
    specs = load_specs(fixtures_dir / "kitchen_sink" / "specs")
    assert render_tree(specs) == render_tree(specs)


def test_processes_with_different_hash_seeds_render_the_same_bytes(
    fixtures_dir: Path, tmp_path: Path, read_tree: Callable[[Path], dict[str, str]]
) -> None:
    """`atlas-gen render` in fresh processes with other string hash seeds writes identical trees."""
    specs = fixtures_dir / "kitchen_sink" / "specs"
    trees = []
    for seed in ("1", "2"):
        out = tmp_path / f"out-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed, "ATLAS_GEN_CACHE_DIR": str(tmp_path / f"cache-{seed}")}
        command = [sys.executable, "-m", "atlas_gen", "render", "--specs", str(specs), "--out", str(out)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        trees.append(read_tree(out))
    assert trees[0] == trees[1]
    assert len(trees[0]) > 10


def test_input_order_does_not_change_output(fixtures_dir: Path, load_specs: LoadSpecs) -> None:
    """Shuffled specs and reversed sections render to the same bytes."""
    specs = [
        s for case in ("kitchen_sink", "parties", "sagas") for s in load_specs(fixtures_dir / case / "specs")
    ]
    expected = render_tree(specs)
    shuffled = [_reversed_sections(s) for s in specs]
    assert any(list(s.state) != list(r.state) for s, r in zip(specs, shuffled, strict=True))
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
    fixtures_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, load_specs: LoadSpecs
) -> None:
    """Renders with an empty, a warm and a corrupted formatting cache give the same bytes."""
    specs = load_specs(fixtures_dir / "parties" / "specs")
    monkeypatch.setenv("ATLAS_GEN_CACHE_DIR", str(tmp_path / "cache"))
    cold = render_tree(specs)
    entries = sorted((tmp_path / "cache").glob("*.json"))
    assert len(entries) == 1
    assert render_tree(specs) == cold
    entries[0].write_text("{not json")
    assert render_tree(specs) == cold
