"""The front end never raises on damaged specs: every problem becomes a diagnostic."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atlas_gen import load_spec_text
from atlas_gen.ecosystem import build_ecosystem
from atlas_gen.validate import validate_ecosystem

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCES = [path.read_text() for path in sorted((ROOT / "specs").glob("*.yaml"))]
SOURCES += [path.read_text() for path in sorted((Path(__file__).parent / "valid").glob("*/*.yaml"))]
VALUES = [
    "",
    "5",
    "-1",
    "1.5",
    "true",
    "null",
    "[]",
    "{}",
    "[a, b]",
    "{get: x}",
    "Party",
    "uint32?",
    "list[uint32]",
    '"dict[str, Party]"',
    "a.b:c",
    "10s",
    "/x/{id}",
    "&a x",
    "*a",
    "|",
    "'",
    "\t",
]


@st.composite
def damaged_spec(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(SOURCES)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        action = draw(st.sampled_from(["value", "delete", "duplicate", "indent", "rename"]))
        if action == "value" and ":" in line:
            lines[index] = line[: line.index(":") + 1] + " " + draw(st.sampled_from(VALUES))
        elif action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, draw(st.sampled_from(lines)))
        elif action == "indent":
            lines[index] = " " + line
        elif action == "rename" and ":" in line:
            lines[index] = line[: max(0, line.index(":") - 2)] + "zz" + line[line.index(":") :]
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged_spec())
def test_damaged_spec_yields_diagnostics_not_exceptions(text: str) -> None:
    """A randomly damaged spec loads into a spec or located diagnostics, and the rules run on it."""
    spec_file, diagnostics = load_spec_text(text, "damaged.yaml")
    assert (spec_file is None) == bool(diagnostics)
    for diagnostic in diagnostics:
        assert diagnostic.line >= 1 and diagnostic.column >= 1
        assert diagnostic.format().startswith("damaged.yaml:")
    if spec_file is not None:
        for diagnostic in validate_ecosystem(build_ecosystem([spec_file])):
            assert diagnostic.file == "damaged.yaml"
