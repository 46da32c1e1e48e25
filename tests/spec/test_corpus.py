"""Golden tests: each folder of invalid/ yields exactly its expected diagnostics.

Each case folder holds one or more spec files, `expected.txt` (the text diagnostics)
and `expected.json` (the `validate --format json` document). Run with
`UPDATE_GOLDEN=1` to rewrite the expected files from the current output, then review
the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from atlas_gen.diagnostics import diagnostics_document
from atlas_gen.loader import load_ecosystem

INVALID = Path(__file__).parent / "invalid"
CASES = sorted(path.name for path in INVALID.iterdir() if path.is_dir())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _actual(case: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.chdir(case)
    ecosystem, diagnostics = load_ecosystem(Path())
    assert ecosystem is None
    text = "".join(diagnostic.format() + "\n" for diagnostic in diagnostics)
    return text, json.dumps(diagnostics_document(diagnostics), indent=2) + "\n"


def test_corpus_is_large_enough() -> None:
    """The corpus holds at least 25 invalid cases, each with expected output."""
    assert len(CASES) >= 25
    for name in CASES:
        assert (INVALID / name / "expected.txt").is_file() or UPDATE, name
        assert any((INVALID / name).glob("*.yaml")), name


@pytest.mark.parametrize("name", CASES)
def test_invalid_case_reports_expected_diagnostics(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invalid case is rejected with exactly the diagnostics of its expected files."""
    case = INVALID / name
    text, document = _actual(case, monkeypatch)
    if UPDATE:
        (case / "expected.txt").write_text(text, encoding="utf-8")
        (case / "expected.json").write_text(document, encoding="utf-8")
    assert text == (case / "expected.txt").read_text(encoding="utf-8")
    assert json.loads(document) == json.loads((case / "expected.json").read_text(encoding="utf-8"))
    assert json.loads(document)["errors"] >= 1
