"""Fields of models, envelopes and message bodies: a type string or `{type, default, ...}`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from ._base import SpecModel
from .names import FieldName
from .types import TypeExpr, TypeRef


class FieldSpec(SpecModel):
    """One field. Written as just its type (`uint32`) or as a mapping.

    Attributes:
        type: the field type.
        default: the value when absent; optional fields (`T?`) default to None.
        description: shown in the generated code and docs.
        min: lower bound of a number (inclusive).
        max: upper bound of a number (inclusive).
    """

    type: TypeExpr
    default: Any = None
    description: str | None = None
    min: float | None = None
    max: float | None = None

    @property
    def has_default(self) -> bool:
        """True when the spec gave a default, or the type is optional (default None)."""
        return "default" in self.model_fields_set or self.type.optional

    @property
    def ref(self) -> TypeRef:
        """The parsed type of the field."""
        return self.type


def _field_from_shorthand(value: Any) -> Any:
    # `members: list[uint32]` is shorthand for `members: {type: list[uint32]}`.
    if isinstance(value, str):
        return {"type": value}
    return value


Field = Annotated[FieldSpec, BeforeValidator(_field_from_shorthand, json_schema_input_type=str | FieldSpec)]
"""A field in either form; always a `FieldSpec` in Python."""


def _none_as_empty(value: Any) -> Any:
    # `CREATED:` with nothing after it is a YAML null; it means "no fields".
    return {} if value is None else value


Fields = Annotated[
    dict[FieldName, Field],
    BeforeValidator(_none_as_empty, json_schema_input_type=dict[FieldName, Field] | None),
]
"""An ordered mapping of field name to field; an empty or null mapping has no fields."""
