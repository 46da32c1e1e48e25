"""View-models of records: models, message envelopes, and their fields, ready for templates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atlas_gen.render.names import pascal, upper_snake
from atlas_gen.render.spec_types import Imports, annotation, field_spec, is_optional


@dataclass(frozen=True)
class FieldView:
    """One field of a model: its declaration line (`name: Type = default`) and documentation."""

    name: str
    spec_type: str
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


def _sized(spec_type: str) -> bool:
    """True when min/max bound a length (strings, lists, dicts) rather than a value."""
    base = spec_type.strip().rstrip("?")
    return base == "str" or base.startswith(("list[", "dict["))


def _field_arguments(spec: Mapping[str, Any], optional: bool) -> list[str]:
    low, high = ("min_length", "max_length") if _sized(str(spec["type"])) else ("ge", "le")
    args = []
    if "default" in spec:
        args.append(f"default={spec['default']!r}")
    elif optional:
        args.append("default=None")
    if spec.get("description"):
        args.append(f"description={str(spec['description'])!r}")
    if spec.get("min") is not None:
        args.append(f"{low}={spec['min']!r}")
    if spec.get("max") is not None:
        args.append(f"{high}={spec['max']!r}")
    return args


def build_field(name: str, raw: Any, imports: Imports, *, models_module: str | None = None) -> FieldView:
    """The view of one declared field."""
    spec = field_spec(raw)
    spec_type = str(spec["type"])
    optional = is_optional(spec_type)
    ann = annotation(spec_type, imports, models_module=models_module)
    args = _field_arguments(spec, optional)
    if any(not a.startswith("default=") for a in args):
        imports.add("pydantic", "Field")
        code = f"{name}: {ann} = Field({', '.join(args)})"
    elif args:
        code = f"{name}: {ann} = {args[0].removeprefix('default=')}"
    else:
        code = f"{name}: {ann}"
    required = "default" not in spec and not optional
    return FieldView(name, spec_type, ann, code, str(spec.get("description", "")), required)


def build_fields(
    raw: Mapping[str, Any] | None, imports: Imports, *, models_module: str | None = None
) -> tuple[FieldView, ...]:
    """Views of a field mapping, in declaration order (which is the wire order)."""
    return tuple(build_field(str(n), r, imports, models_module=models_module) for n, r in (raw or {}).items())


def build_models(raw: Mapping[str, Any] | None, imports: Imports) -> tuple[ModelView, ...]:
    """The `models:` section, sorted by name so output never depends on YAML order."""
    views = []
    for name, fields in sorted((raw or {}).items()):
        views.append(ModelView(pascal(str(name)), build_fields(fields, imports)))
    return tuple(views)


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


def build_messages(raw: Mapping[str, Any] | None, imports: Imports) -> tuple[MessageView, ...]:
    """The `messages:` section, sorted by name; types keep their declared order."""
    views = []
    for name, body in sorted((raw or {}).items()):
        cls = pascal(str(name))
        types = []
        for value, fields in (body.get("types") or {}).items():
            type_cls = cls + pascal(str(value).lower())
            body_fields = build_fields(fields, imports, models_module=".models")
            types.append(MessageTypeView(str(value), type_cls, f"{type_cls}Body", body_fields))
        envelope = build_fields(body.get("fields"), imports, models_module=".models")
        views.append(MessageView(cls, f"{cls}Envelope", adapter_name(cls), envelope, tuple(types)))
    return tuple(views)
