"""The spec language of atlas-gen, as pydantic models.

`ServiceSpec` is the root of one YAML file. `json_schema()` gives the JSON Schema of
the language for editors (yaml-language-server).
"""

from __future__ import annotations

from typing import Any

from .consumes import ConsumeLockSpec, ConsumeSpec, RetrySpec
from .database import ColumnSpec, DatabaseSpec, PoolSpec, TableSpec
from .durations import Duration, DurationError, format_duration, parse_duration
from .endpoints import (
    GetOperation,
    HandlerOperation,
    HttpMethod,
    ListOperation,
    Operation,
    RemoveOperation,
    path_parameters,
)
from .fields import FieldSpec
from .locks import LockSpec
from .messages import MessageSpec
from .produces import ProduceSpec
from .sagas import CommandSpec, CompletionSpec, SagaEventsSpec, SagaSpec, StepSpec, TriggerSpec
from .service import ServiceSpec
from .state import IdsSpec, IndexSpec, ReadCacheSpec, RegistryKind, RegistrySpec
from .tasks import TaskSpec
from .types import INTEGER_SCALARS, SCALARS, ScalarType, TypeExpr, TypeRef, TypeSyntaxError, parse_type

__all__ = [
    "INTEGER_SCALARS",
    "SCALARS",
    "ColumnSpec",
    "CommandSpec",
    "CompletionSpec",
    "ConsumeLockSpec",
    "ConsumeSpec",
    "DatabaseSpec",
    "Duration",
    "DurationError",
    "FieldSpec",
    "GetOperation",
    "HandlerOperation",
    "HttpMethod",
    "IdsSpec",
    "IndexSpec",
    "ListOperation",
    "LockSpec",
    "MessageSpec",
    "Operation",
    "PoolSpec",
    "ProduceSpec",
    "ReadCacheSpec",
    "RegistryKind",
    "RegistrySpec",
    "RemoveOperation",
    "RetrySpec",
    "SagaEventsSpec",
    "SagaSpec",
    "ScalarType",
    "ServiceSpec",
    "StepSpec",
    "TableSpec",
    "TaskSpec",
    "TriggerSpec",
    "TypeExpr",
    "TypeRef",
    "TypeSyntaxError",
    "format_duration",
    "json_schema",
    "parse_duration",
    "parse_type",
    "path_parameters",
]

SCHEMA_ID = "https://atlas-gen.dev/schema/service-spec.json"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one spec file, for editors and CI checks."""
    schema = _close_pattern_maps(ServiceSpec.model_json_schema(mode="validation"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "atlas-gen service spec",
        **{key: value for key, value in schema.items() if key != "title"},
    }


def _close_pattern_maps(node: Any) -> Any:
    # Name rules are `patternProperties`; without `additionalProperties: false` a key that
    # breaks the pattern would pass, so close every such mapping.
    if isinstance(node, dict):
        closed = {key: _close_pattern_maps(value) for key, value in node.items()}
        if "patternProperties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(node, list):
        return [_close_pattern_maps(item) for item in node]
    return node
