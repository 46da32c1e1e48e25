"""Loading single spec files: YAML edge cases, positions and the pure entry points."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from atlas_gen import load_spec_file, load_spec_text
from atlas_gen.loader import Position, find_spec_files, load_ecosystem
from atlas_gen.loader.yaml_source import ParsedYaml, parse_yaml

MINIMAL = "service: parties\n"


def codes(text: str) -> list[tuple[str, int, int]]:
    _, diagnostics = load_spec_text(text, "spec.yaml")
    return [(diagnostic.code, diagnostic.line, diagnostic.column) for diagnostic in diagnostics]


def test_minimal_spec_loads_with_defaults() -> None:
    """A spec with only `service:` loads, with replicas 2 and the default consumer group."""
    spec_file, diagnostics = load_spec_text(MINIMAL, "parties.yaml")
    assert diagnostics == []
    assert spec_file is not None
    assert spec_file.spec.replicas == 2
    assert spec_file.spec.effective_consumer_group == "parties service"
    assert spec_file.spec.wire_case == "declared"


def test_source_map_locates_keys_and_values() -> None:
    """The source map gives 1-based positions of keys and values, and of list items."""
    text = "service: parties\ncalls:\n  - buffs\n  - drops\nlocks:\n  party: {ttl: 5s}\n"
    spec_file, _ = load_spec_text(text, "parties.yaml")
    assert spec_file is not None
    assert spec_file.position(("calls", 1)) == Position(4, 5)
    assert spec_file.position(("locks", "party", "ttl")) == Position(6, 16)
    assert spec_file.position(("locks", "party"), key=True) == Position(6, 3)


def test_merge_keys_and_anchors_are_supported() -> None:
    """`<<: *anchor` merges a mapping; later keys override merged ones."""
    text = (
        "service: parties\nlocks:\n  base: &lock {ttl: 5s, wait: 2s}\n  other:\n    <<: *lock\n    wait: 1s\n"
    )
    spec_file, diagnostics = load_spec_text(text, "parties.yaml")
    assert diagnostics == []
    assert spec_file is not None
    other = spec_file.spec.locks["other"]
    assert (other.ttl.total_seconds(), other.wait.total_seconds()) == (5.0, 1.0)


def test_recursive_alias_is_an_error_not_a_hang() -> None:
    """An alias to a mapping containing it is reported, not followed forever."""
    assert codes("service: parties\nmodels: &m\n  Party:\n    self: *m\n")[0][0] == "E007"


def test_several_documents_are_rejected() -> None:
    """A second YAML document in a spec file is a syntax error located at the `---`."""
    assert codes("service: parties\n---\nservice: buffs\n") == [("E001", 2, 1)]


def test_null_bodies_mean_no_fields() -> None:
    """`CREATED:` with nothing after it declares a type with an empty body."""
    text = "service: parties\nmessages:\n  PartyStatus:\n    types:\n      CREATED:\n"
    spec_file, diagnostics = load_spec_text(text, "parties.yaml")
    assert diagnostics == []
    assert spec_file is not None and spec_file.spec.messages["PartyStatus"].types["CREATED"] == {}


def test_unknown_top_level_key_lists_allowed_keys() -> None:
    """An unknown key names the allowed keys of its mapping as the expectation."""
    _, diagnostics = load_spec_text("service: parties\nstat: {}\n", "parties.yaml")
    assert diagnostics[0].message == "unknown key `stat`; did you mean `state`?"
    assert diagnostics[0].expected is not None and "`state`" in diagnostics[0].expected


def test_wrong_http_method_suggests_one() -> None:
    """A misspelt HTTP method is located at its key and suggests the closest method."""
    text = "service: parties\nendpoints:\n  /parties:\n    gett: {handler: a.b:c}\n"
    _, diagnostics = load_spec_text(text, "parties.yaml")
    assert [(d.code, d.line, d.column) for d in diagnostics] == [("E013", 4, 5)]
    assert "did you mean `get`?" in diagnostics[0].message


def test_non_utf8_file_is_reported(tmp_path: Path) -> None:
    """A file that is not UTF-8 text gets an E008 diagnostic."""
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"service: caf\xe9\n")
    spec_file, diagnostics = load_spec_file(path)
    assert spec_file is None
    assert [diagnostic.code for diagnostic in diagnostics] == ["E008"]


def test_spec_files_are_found_in_name_order(tmp_path: Path) -> None:
    """Only *.yaml and *.yml files directly in the folder are specs, sorted by name."""
    for name in ("b.yml", "a.yaml", "notes.txt"):
        (tmp_path / name).write_text(MINIMAL)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.yaml").write_text(MINIMAL)
    assert [path.name for path in find_spec_files(tmp_path)] == ["a.yaml", "b.yml"]


def test_missing_folder_raises(tmp_path: Path) -> None:
    """Loading a folder that does not exist raises FileNotFoundError."""
    with pytest.raises(FileNotFoundError):
        load_ecosystem(tmp_path / "absent")


def _positions(node: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], int, int]]:
    yield loc, node.start_mark.line, node.start_mark.column
    if isinstance(node.value, list):
        for index, item in enumerate(node.value):
            if isinstance(item, tuple):
                yield from _positions(item[0], (*loc, index, "key"))
                yield from _positions(item[1], (*loc, index, "value"))
            else:
                yield from _positions(item, (*loc, index))


SPEC_TEXTS = sorted([*Path(__file__).parent.parent.parent.joinpath("specs").glob("*.yaml")])
SPEC_TEXTS += sorted(Path(__file__).parent.joinpath("valid").glob("*/*.yaml"))


@pytest.mark.parametrize("path", SPEC_TEXTS, ids=lambda path: path.name)
def test_libyaml_fast_path_matches_ruamel(path: Path) -> None:
    """The libyaml fast path yields the same data and positions as ruamel.yaml alone."""
    text = path.read_text()
    fast, reference = parse_yaml(text, "x.yaml"), parse_yaml(text, "x.yaml", fast=False)
    assert isinstance(fast, ParsedYaml) and isinstance(reference, ParsedYaml)
    assert fast.data == reference.data
    assert list(_positions(fast.source.root)) == list(_positions(reference.source.root))


def test_flow_mapping_with_optional_type_parses_on_either_path() -> None:
    """`{id: uuid?}`, which libyaml rejects, still parses (through ruamel.yaml) as YAML 1.2."""
    text = "service: parties\nmodels:\n  Party: {id: uuid?, open: yes, size: 010}\n"
    parsed = parse_yaml(text, "x.yaml")
    assert isinstance(parsed, ParsedYaml)
    assert parsed.data["models"]["Party"] == {"id": "uuid?", "open": "yes", "size": 10}


def test_shorthands_expand_to_full_forms() -> None:
    """`ids: true`, `index: field`, a single-column index and `wire_case: snake` expand to full forms."""
    text = (
        'service: parties\nwire_case: snake\nmodels:\n  Party: {id: uint32, tags: "list[str]"}\n'
        "state:\n  parties: {key: uint32, value: Party, ids: true, indexes: {tag: tags}}\n"
        "database:\n  tables:\n    notes:\n"
        "      columns: {id: {type: uint32, primary_key: true}, text: str}\n"
        "      indexes: [text, [id, text]]\n"
    )
    spec_file, diagnostics = load_spec_text(text, "parties.yaml")
    assert diagnostics == []
    assert spec_file is not None
    spec = spec_file.spec
    assert spec.wire_case == "declared"
    assert spec.state["parties"].ids is not None and spec.state["parties"].ids.start == 1
    assert spec.state["parties"].indexes["tag"].field == "tags"
    assert spec.database is not None and spec.database.tables["notes"].indexes == [["text"], ["id", "text"]]


def test_tab_inside_block_scalar_is_content() -> None:
    """A tab inside a block scalar is text, not indentation, and is accepted."""
    spec_file, diagnostics = load_spec_text("service: p\ndescription: |\n  steps:\n  \tone\n", "p.yaml")
    assert diagnostics == []
    assert spec_file is not None and spec_file.spec.description == "steps:\n\tone\n"
