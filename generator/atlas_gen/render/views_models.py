"""View-models of records: models, message envelopes, and their fields, ready for templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from atlas_gen.render.names import pascal, upper_snake
from atlas_gen.render.spec_types import Imports, annotation
from atlas_spec import FieldSpec, MessageSpec, TypeRef


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


def _sized(ref: TypeRef) -> bool:
    """True when min/max bound a length (strings, lists, dicts) rather than a value."""
    return ref.kind in ("list", "dict") or (ref.kind == "scalar" and ref.name == "str")


def _bound(value: float) -> int | float:
    """A bound as written in a spec: `1`, not the `1.0` the schema stores."""
    return int(value) if value.is_integer() else value


def _field_arguments(spec: FieldSpec) -> list[str]:
    low, high = ("min_length", "max_length") if _sized(spec.type) else ("ge", "le")
    args = []
    if spec.has_default:
        args.append(f"default={spec.default!r}")
    if spec.description:
        args.append(f"description={spec.description!r}")
    if spec.min is not None:
        args.append(f"{low}={_bound(spec.min)!r}")
    if spec.max is not None:
        args.append(f"{high}={_bound(spec.max)!r}")
    return args


def build_field(
    name: str,
    spec: FieldSpec,
    imports: Imports,
    *,
    models_module: str | None = None,
    shadowed: frozenset[str] = frozenset(),
) -> FieldView:
    """The view of one declared field; `shadowed` are the field names of its class."""
    ann = annotation(spec.type, imports, models_module=models_module, shadowed=shadowed)
    args = _field_arguments(spec)
    if any(not a.startswith("default=") for a in args):
        if "Field" in shadowed:
            field_call = imports.qualified("pydantic", "Field")
        else:
            imports.add("pydantic", "Field")
            field_call = "Field"
        code = f"{name}: {ann} = {field_call}({', '.join(args)})"
    elif args:
        code = f"{name}: {ann} = {args[0].removeprefix('default=')}"
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
            type_cls = name + pascal(value.lower())
            body_fields = build_fields(fields, imports, models_module=".models")
            types.append(MessageTypeView(value, type_cls, f"{type_cls}Body", body_fields))
        envelope = build_fields(message.fields, imports, models_module=".models")
        views.append(MessageView(name, f"{name}Envelope", adapter_name(name), envelope, tuple(types)))
    return tuple(views)
