"""The exported JSON Schema agrees with the pydantic models on valid and invalid specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from atlas_spec import json_schema

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
VALID_SPECS = sorted([*(ROOT / "specs").glob("*.yaml"), *(HERE / "valid").glob("*/*.yaml")])
SCHEMA_LEVEL = [
    line.strip()
    for line in (HERE / "schema_level.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _load(path: Path) -> Any:
    # The schema checks data: load as YAML 1.2 and let JSON decide on the types.
    return json.loads(json.dumps(YAML(typ="safe", pure=True).load(path.read_text()), default=str))


def test_schema_is_a_draft_2020_12_document() -> None:
    """The schema declares draft 2020-12, a title and the service properties."""
    schema = json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["service"]
    assert schema["additionalProperties"] is False
    assert {"state", "messages", "consumes", "produces", "endpoints", "sagas"} <= set(schema["properties"])


@pytest.mark.parametrize("path", VALID_SPECS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_schema_accepts_valid_spec(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    """Every valid example spec passes the JSON Schema."""
    errors = [error.message for error in validator.iter_errors(_load(path))]
    assert errors == []


@pytest.mark.parametrize("name", SCHEMA_LEVEL)
def test_schema_rejects_schema_level_invalid_case(
    name: str, validator: jsonschema.Draft202012Validator
) -> None:
    """Each schema-level invalid case has a file the JSON Schema rejects."""
    files = sorted((HERE / "invalid" / name).glob("*.yaml"))
    assert files
    assert any(list(validator.iter_errors(_load(path))) for path in files)


def test_schema_level_list_names_real_cases() -> None:
    """The schema-level list only names cases that exist."""
    assert SCHEMA_LEVEL
    for name in SCHEMA_LEVEL:
        assert (HERE / "invalid" / name).is_dir(), name
