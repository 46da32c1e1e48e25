"""Rules about types: every model named in a type exists; bounds and defaults fit; no field hides a model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic.alias_generators import to_camel

from atlas_spec import FieldSpec, TypeRef

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from ._resolve import did_you_mean, one_of

Loc = tuple[str | int, ...]


def _unknown_models(spec_file: SpecFile, ref: TypeRef, loc: Loc) -> Iterator[Diagnostic]:
    models = spec_file.spec.models
    for name in ref.models():
        if name not in models:
            message = f"unknown model `{name}`" + did_you_mean(name, models)
            yield spec_file.diagnostic(loc, "E021", message, expected=one_of(models))


def _field_diagnostics(spec_file: SpecFile, field: FieldSpec, loc: Loc) -> Iterator[Diagnostic]:
    yield from _unknown_models(spec_file, field.type, loc)
    numeric = field.type.kind == "scalar" and (field.type.is_integer or field.type.name == "float")
    if (field.min is not None or field.max is not None) and not numeric:
        yield spec_file.diagnostic(loc, "E013", f"`min`/`max` apply to numbers, not `{field.type}`")
    elif numeric:
        for problem, key in _bound_problems(field):
            yield spec_file.diagnostic((*loc, key), "E013", problem)
    if "default" in field.model_fields_set:
        wrong = _default_problem(field.type, field.default) or _default_out_of_bounds(field)
        if wrong:
            yield spec_file.diagnostic((*loc, "default"), "E029", f"bad default: {wrong}")


def _range(ref: TypeRef) -> str:
    scalar = ref.scalar
    assert scalar is not None
    return f"{ref.name} holds {scalar.minimum}..{scalar.maximum}"


def _bound_problems(field: FieldSpec) -> Iterator[tuple[str, str]]:
    """`min` above `max`, or a bound outside the integer type's own range."""
    low, high, scalar = field.min, field.max, field.type.scalar
    if low is not None and high is not None and low > high:
        yield f"`min` ({low:g}) is larger than `max` ({high:g})", "min"
    if scalar is None or scalar.minimum is None or scalar.maximum is None:
        return
    for key, bound in (("min", low), ("max", high)):
        if bound is not None and not scalar.minimum <= bound <= scalar.maximum:
            yield f"`{key}` ({bound:g}) is outside the type's range ({_range(field.type)})", key


# The Python literals a default of each scalar may be (YAML gives exactly these).
_LITERAL_TYPES: dict[str, type | tuple[type, ...]] = {
    "bool": bool,
    "int": int,
    "float": (int, float),
    "str": str,
}


def _default_problem(ref: TypeRef, value: Any) -> str | None:
    """Why `value` cannot be the default of a `ref` field (it is rendered as a Python literal)."""
    if value is None:
        return None if ref.optional else f"null, but `{ref}` is not optional (write `{ref}?`)"
    if ref.kind in ("list", "dict"):
        assert ref.item is not None
        items = value if ref.kind == "list" and isinstance(value, list) else None
        if ref.kind == "dict" and isinstance(value, dict) and all(isinstance(k, str) for k in value):
            items = list(value.values())
        if items is None:
            return f"{json.dumps(value, default=str)} is not a {'list' if ref.kind == 'list' else 'mapping'}"
        return next(filter(None, (_default_problem(ref.item, item) for item in items)), None)
    if ref.kind == "model" or ref.name in ("uuid", "datetime"):
        bare = ref.required()
        return f"`{bare}` fields take no default: make the field optional (`{bare}?`) or required"
    scalar = ref.scalar
    assert scalar is not None
    expected = _LITERAL_TYPES[scalar.python]
    if isinstance(value, bool) is not (scalar.python == "bool") or not isinstance(value, expected):
        return f"{json.dumps(value, default=str)} does not fit `{ref.required()}`"
    low, high = scalar.minimum, scalar.maximum
    if isinstance(value, int) and low is not None and high is not None and not low <= value <= high:
        return f"{value} is outside the type's range ({_range(ref)})"
    return None


def _default_out_of_bounds(field: FieldSpec) -> str | None:
    value = field.default
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if (field.min is not None and value < field.min) or (field.max is not None and value > field.max):
        return f"{value} is outside `min`/`max`"
    return None


def _typed_fields(spec_file: SpecFile) -> Iterator[tuple[FieldSpec, Loc]]:
    spec = spec_file.spec
    for model_name, fields in spec.models.items():
        for field_name, field in fields.items():
            yield field, ("models", model_name, field_name)
    for message_name, message in spec.messages.items():
        for field_name, field in message.fields.items():
            yield field, ("messages", message_name, "fields", field_name)
        for type_name, body in message.types.items():
            for field_name, field in body.items():
                yield field, ("messages", message_name, "types", type_name, field_name)


def field_types_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Models named in fields of models and messages are declared under `models:`."""
    for spec_file in ecosystem.files:
        for field, loc in _typed_fields(spec_file):
            yield from _field_diagnostics(spec_file, field, loc)


def endpoint_types_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Models named in endpoint `body`, `returns` and `params` are declared."""
    for spec_file in ecosystem.files:
        for path, methods in spec_file.spec.endpoints.items():
            for method, operation in methods.items():
                loc: Loc = ("endpoints", path, method)
                for name, ref in operation.params.items():
                    yield from _unknown_models(spec_file, ref, (*loc, "params", name))
                for key in ("body", "returns"):
                    declared: TypeRef | None = getattr(operation, key, None)
                    if declared is not None:
                        yield from _unknown_models(spec_file, declared, (*loc, key))


def fields_not_named_like_models(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """No field of a model or message is named like a model: the class would hide that model."""
    for spec_file in ecosystem.files:
        models = spec_file.spec.models
        for _, loc in _typed_fields(spec_file):
            name = loc[-1]
            if name in models:
                message = f"field `{name}` is named like the model `{name}`, which generated classes need"
                yield spec_file.diagnostic(loc, "E028", message, key=True, expected="another field name")


def camel_names_distinct(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """With `wire_case: camel`, no two fields of one class share a wire name (`foo_bar`, `fooBar`)."""
    for spec_file in ecosystem.files:
        if spec_file.spec.wire_case != "camel":
            continue
        seen: dict[tuple[Loc, str], str] = {}
        for _, loc in _typed_fields(spec_file):
            name = str(loc[-1])
            wire = to_camel(name)
            first = seen.setdefault((loc[:-1], wire), name)
            if first != name:
                message = f"fields `{first}` and `{name}` are both `{wire}` on the wire (wire_case: camel)"
                yield spec_file.diagnostic(loc, "E028", message, key=True, expected="another field name")


RULES = (field_types_exist, endpoint_types_exist, fields_not_named_like_models, camel_names_distinct)
