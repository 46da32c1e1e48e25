"""The exported JSON Schema agrees with the pydantic models on valid and invalid specs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from atlas_spec import ServiceSpec, json_schema

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
VALID_SPECS = sorted([*(ROOT / "specs").glob("*.yaml"), *(HERE / "valid").glob("*/*.yaml")])
INVALID_FILES = sorted((HERE / "invalid").glob("*/*.yaml"))


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


def _is_yaml(path: Path) -> bool:
    try:
        _load(path)
    except YAMLError:
        return False
    return True


# The corpus files that are YAML data (the others are caught before any schema applies).
INVALID_DATA = [path for path in INVALID_FILES if _is_yaml(path)]


def _models_reject(path: Path) -> bool:
    try:
        ServiceSpec.model_validate(_load(path))
    except ValidationError:
        return True
    return False


@pytest.mark.parametrize("path", INVALID_DATA, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_schema_rejects_exactly_what_the_models_reject(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    """Every invalid-corpus file the models reject, the JSON Schema rejects, and no other.

    Files whose errors are ecosystem rules (unknown references, clashes) are valid data for both.
    """
    assert bool(list(validator.iter_errors(_load(path)))) is _models_reject(path)


def test_the_corpus_has_schema_level_cases() -> None:
    """At least ten corpus files are rejected at the schema level, so the agreement above means something."""
    assert sum(_models_reject(path) for path in INVALID_DATA) >= 10
