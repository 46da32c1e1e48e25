"""Fixtures of the render tests: fixture spec folders, golden trees and a spec-writing helper."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from atlas_gen.loader import load_ecosystem
from atlas_gen.render import render_tree
from atlas_spec import ServiceSpec

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "specs").is_dir())
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"


def golden_files(root: Path) -> dict[str, str]:
    """Every file under a golden tree, relative path -> text (caches skipped)."""
    skip = {"__pycache__", ".mypy_cache", ".ruff_cache"}
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*"))
        if p.is_file() and not skip.intersection(p.relative_to(root).parts)
    }


def specs_of(folder: Path) -> list[ServiceSpec]:
    """The validated specs of a folder; fails the test with the diagnostics when they are invalid."""
    ecosystem, diagnostics = load_ecosystem(folder)
    if ecosystem is None:
        pytest.fail("\n".join(d.format() for d in diagnostics))
    return list(ecosystem.specs())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests taking `case` run once per fixture case."""
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", CASES)


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of fixture cases (`<case>/specs`, `<case>/golden`)."""
    return FIXTURES


@pytest.fixture(scope="session")
def read_tree() -> Callable[[Path], dict[str, str]]:
    """Read a tree of files as relative path -> text."""
    return golden_files


@pytest.fixture(scope="session")
def load_specs() -> Callable[[Path], list[ServiceSpec]]:
    """Load and validate a folder of specs (the test fails on invalid specs)."""
    return specs_of


@pytest.fixture(scope="session")
def rendered_cases() -> dict[str, dict[str, str]]:
    """Each fixture case rendered once per session."""
    return {case: render_tree(specs_of(FIXTURES / case / "specs")) for case in CASES}


@pytest.fixture
def write_specs(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Write `{file name: YAML text}` into a fresh specs folder and return it."""

    def write(files: dict[str, str]) -> Path:
        folder = tmp_path / "specs"
        folder.mkdir(exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return folder

    return write
