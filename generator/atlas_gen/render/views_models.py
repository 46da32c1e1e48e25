"""View-models of records: models, message envelopes, and their fields, ready for templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from atlas_gen.render.names import (
    message_body_class,
    message_envelope_class,
    message_type_class,
    upper_snake,
)
from atlas_gen.render.spec_types import Imports, annotation
from atlas_spec import FieldSpec, MessageSpec


@dataclass(frozen=True)
class FieldView:
    """One field of a model: its declaration line (`name: Type = default`) and documentation."""

    name: str
    annotation: str
    code: str
    description: str
    required: bool


@dataclass(frozen=True)
class ModelView:
    """A pydantic model class."""

    name: str
    fields: tuple[FieldView, ...]
    description: str = ""

    @property
    def all_defaults(self) -> bool:
        """True when the model can be built with no arguments."""
        return not any(f.required for f in self.fields)


# pydantic v1 methods that BaseModel still carries (deprecated): a field may take their name on
# the wire, and pydantic allows it, but type checkers see a method overridden by a field.
_BASE_MODEL_METHODS = frozenset(
    {
        "construct",
        "copy",
        "dict",
        "from_orm",
        "json",
        "parse_file",
        "parse_obj",
        "parse_raw",
        "schema",
        "schema_json",
        "update_forward_refs",
        "validate",
    }
)


def _bound(value: float) -> int | float:
    """A bound as written in a spec: `1`, not the `1.0` the schema stores."""
    return int(value) if value.is_integer() else value


def _bounds(spec: FieldSpec) -> list[str]:
    bounds = []
    if spec.min is not None:
        bounds.append(f"ge={_bound(spec.min)!r}")
    if spec.max is not None:
        bounds.append(f"le={_bound(spec.max)!r}")
    return bounds


def _field_call(imports: Imports, shadowed: frozenset[str]) -> str:
    if "Field" in shadowed:
        return imports.qualified("pydantic", "Field")
    imports.add("pydantic", "Field")
    return "Field"


def _annotation(
    spec: FieldSpec, imports: Imports, models_module: str | None, shadowed: frozenset[str]
) -> str:
    """The field's annotation; bounds go inside it, next to the ones of the type.

    An integer type (`UInt16`) carries its range in its own `Annotated` metadata, and pydantic
    ignores bounds given beside it in the default's `Field(...)`, so a field's bounds are
    stacked on the type: `Annotated[UInt16, Field(ge=1, le=200)]`.
    """
    bounds = _bounds(spec)
    if not bounds:
        return annotation(spec.type, imports, models_module=models_module, shadowed=shadowed)
    bare = annotation(spec.type.required(), imports, models_module=models_module, shadowed=shadowed)
    imports.add("typing", "Annotated")
    bounded = f"Annotated[{bare}, {_field_call(imports, shadowed)}({', '.join(bounds)})]"
    return f"{bounded} | None" if spec.type.optional else bounded


def build_field(
    name: str,
    spec: FieldSpec,
    imports: Imports,
    *,
    models_module: str | None = None,
    shadowed: frozenset[str] = frozenset(),
) -> FieldView:
    """The view of one declared field; `shadowed` are the field names of its class."""
    ann = _annotation(spec, imports, models_module, shadowed)
    default = f"{spec.default!r}" if spec.has_default else None
    if spec.description:
        args = [f"default={default}"] if default is not None else []
        args.append(f"description={spec.description!r}")
        code = f"{name}: {ann} = {_field_call(imports, shadowed)}({', '.join(args)})"
    elif default is not None:
        code = f"{name}: {ann} = {default}"
    else:
        code = f"{name}: {ann}"
    if name in _BASE_MODEL_METHODS:
        code += "  # type: ignore[assignment]"
    return FieldView(name, ann, code, spec.description or "", not spec.has_default)


def build_fields(
    fields: Mapping[str, FieldSpec], imports: Imports, *, models_module: str | None = None
) -> tuple[FieldView, ...]:
    """Views of a field mapping, in declaration order (which is the wire order)."""
    shadowed = frozenset(fields)
    return tuple(
        build_field(n, f, imports, models_module=models_module, shadowed=shadowed) for n, f in fields.items()
    )


def build_models(models: Mapping[str, Mapping[str, FieldSpec]], imports: Imports) -> tuple[ModelView, ...]:
    """The `models:` section, sorted by name so output never depends on YAML order."""
    return tuple(ModelView(name, build_fields(fields, imports)) for name, fields in sorted(models.items()))


@dataclass(frozen=True)
class MessageTypeView:
    """One `type` of a message: its class, its body class and body fields."""

    value: str
    class_name: str
    body_class: str
    body_fields: tuple[FieldView, ...]

    @property
    def body_default(self) -> bool:
        """True when the body can be omitted (every body field has a default)."""
        return not any(f.required for f in self.body_fields)


@dataclass(frozen=True)
class MessageView:
    """A Kafka message envelope: shared fields plus a union discriminated by `type`."""

    name: str
    base_class: str
    adapter: str
    fields: tuple[FieldView, ...]
    types: tuple[MessageTypeView, ...]

    @property
    def union(self) -> str:
        """The union annotation of every concrete type class."""
        return " | ".join(t.class_name for t in self.types)


def adapter_name(message: str) -> str:
    """The module-level TypeAdapter constant of a message, e.g. `PARTY_COMMAND`."""
    return upper_snake(message)


def build_messages(messages: Mapping[str, MessageSpec], imports: Imports) -> tuple[MessageView, ...]:
    """The `messages:` section, sorted by name; types keep their declared order."""
    views = []
    for name, message in sorted(messages.items()):
        types = []
        for value, fields in message.types.items():
            body_fields = build_fields(fields, imports, models_module=".models")
            type_class, body_class = message_type_class(name, value), message_body_class(name, value)
            types.append(MessageTypeView(value, type_class, body_class, body_fields))
        envelope = build_fields(message.fields, imports, models_module=".models")
        envelope_class = message_envelope_class(name)
        views.append(MessageView(name, envelope_class, adapter_name(name), envelope, tuple(types)))
    return tuple(views)
