"""Rules about types: every model named in a type exists; bounds fit numbers; no field hides a model."""

from __future__ import annotations

from collections.abc import Iterator

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


RULES = (field_types_exist, endpoint_types_exist, fields_not_named_like_models)
