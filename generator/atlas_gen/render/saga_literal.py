"""The spec sections the saga runtime reads, as a Python literal for `sagas.py`.

The runtime validates the literal with `ServiceSpec` again, so it is written in the
spec's own shape: only what the spec sets, durations with a unit, and a field that gives
just its type in the shorthand `name: type`. Keys are sorted; lists keep their order.
"""

from __future__ import annotations

import pprint
from collections.abc import Mapping
from typing import Any

from atlas_spec import FieldSpec, MessageSpec, ServiceSpec

_SECTIONS = {"service", "wire_case", "models", "messages", "sagas"}


def _fields(fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    return {
        name: str(spec.type)
        if spec.model_fields_set == {"type"}
        else spec.model_dump(mode="json", exclude_unset=True)
        for name, spec in fields.items()
    }


def _message(message: MessageSpec) -> dict[str, Any]:
    data = message.model_dump(mode="json", exclude_unset=True)
    if "fields" in data:
        data["fields"] = _fields(message.fields)
    data["types"] = {name: _fields(body) for name, body in message.types.items()}
    return data


def saga_literal(spec: ServiceSpec) -> str | None:
    """`service`, `wire_case`, `models`, `messages` and `sagas` as a literal; None without sagas."""
    if not spec.sagas:
        return None
    data = spec.model_dump(mode="json", include=_SECTIONS, exclude_unset=True)
    if "models" in data:
        data["models"] = {name: _fields(fields) for name, fields in spec.models.items()}
    if "messages" in data:
        data["messages"] = {name: _message(message) for name, message in spec.messages.items()}
    return pprint.pformat(data, sort_dicts=True, width=100)
