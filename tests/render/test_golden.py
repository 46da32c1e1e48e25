"""Golden record: each fixture's specs render to its committed tree, file by file.

Regenerate with `UPDATE_GOLDEN=1 pytest tests/render/test_golden.py`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from atlas_gen.render import write_tree


def test_render_matches_golden_tree(
    case: str,
    rendered_cases: dict[str, dict[str, str]],
    fixtures_dir: Path,
    read_tree: Callable[[Path], dict[str, str]],
) -> None:
    """Rendering a fixture's specs reproduces its golden tree byte for byte."""
    rendered = rendered_cases[case]
    golden = fixtures_dir / case / "golden"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_tree(golden, rendered, force=True)
    on_disk = read_tree(golden)
    assert sorted(rendered) == sorted(on_disk)
    for path, text in rendered.items():
        assert text == on_disk[path], f"{case}: {path} differs from the golden record"


def test_fixtures_cover_every_spec_feature(rendered_cases: dict[str, dict[str, str]]) -> None:
    """Together the fixtures exercise every section and option of the spec language."""
    text = "\n".join(t for tree in rendered_cases.values() for t in tree.values())
    for needle in (
        "CamelWireModel",
        'kind="ttl"',
        'kind="coalesced"',
        'scope="global"',
        "unique=True",
        "ids_start=",
        "LockDecl(",
        "ConsumeLockDecl(",
        'via="outbox"',
        "dead_letter=False",
        'action="list"',
        'action="get"',
        'action="remove"',
        'action="handler"',
        "scopes=(",
        "filters=",
        "CallDecl(",
        "leader_only=True",
        "DatabaseDecl(",
        "UniqueConstraint(",
        "Int64",
        "UInt64",
        "datetime",
        "dict[str, Int32]",
        "Annotated[UInt16, Field(ge=1, le=200)]",
        "le=200",
        "PodDisruptionBudget",
        "CHARACTERS_SERVICE_URL",
        "sagas=SAGA_SPEC",
    ):
        assert needle in text, f"no fixture renders {needle!r}"
