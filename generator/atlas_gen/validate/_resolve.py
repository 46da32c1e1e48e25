"""Lookups shared by the rules: fields of models and messages, dotted field paths."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from atlas_spec import FieldSpec, ServiceSpec, TypeRef


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean `x`?` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean `{matches[0]}`?" if matches else ""


def one_of(choices: Iterable[str]) -> str | None:
    """`one of `a`, `b`` for the expected part of a diagnostic (None when there is no choice)."""
    names = sorted(choices)
    return "one of " + ", ".join(f"`{name}`" for name in names) if names else None


def envelope_fields(spec: ServiceSpec, message: str) -> dict[str, FieldSpec]:
    """The envelope fields of a message ({} when the message is unknown)."""
    declared = spec.messages.get(message)
    return dict(declared.fields) if declared is not None else {}


def message_fields(spec: ServiceSpec, message: str, message_type: str) -> dict[str, FieldSpec]:
    """The envelope fields plus the body fields of one type of a message."""
    declared = spec.messages.get(message)
    if declared is None:
        return {}
    return {**declared.fields, **declared.types.get(message_type, {})}


def resolve_field_path(spec: ServiceSpec, model: str, path: str) -> TypeRef | str:
    """The type at a dotted path into a model, stepping through lists and nested models.

    Returns:
        The leaf type, or a message saying which part of the path does not exist.
    """
    current = model
    parts = path.split(".")
    for index, part in enumerate(parts):
        fields = spec.models.get(current, {})
        field = fields.get(part)
        if field is None:
            return f"`{current}` has no field `{part}`" + did_you_mean(part, fields)
        ref = field.type
        while ref.kind == "list" and ref.item is not None:
            ref = ref.item
        if index == len(parts) - 1:
            return field.type
        if ref.kind != "model":
            return f"`{current}.{part}` is a `{field.type}`, which has no field `{parts[index + 1]}`"
        current = ref.name
    raise AssertionError("unreachable: a path has at least one part")


def shape(spec: ServiceSpec, ref: TypeRef, seen: frozenset[str] = frozenset()) -> str:
    """A structural spelling of a type: model names replaced by their fields, recursively."""
    if ref.kind == "model":
        fields = spec.models.get(ref.name)
        if fields is None or ref.name in seen:
            text = ref.name
        else:
            inner = ", ".join(
                f"{name}: {shape(spec, field.type, seen | {ref.name})}" for name, field in fields.items()
            )
            text = "{" + inner + "}"
    elif ref.item is not None:
        item = shape(spec, ref.item, seen)
        text = f"list[{item}]" if ref.kind == "list" else f"dict[str, {item}]"
    else:
        text = ref.name
    return text + ("?" if ref.optional else "")
