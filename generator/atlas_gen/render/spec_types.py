"""Spec field types and durations, translated into Python annotations and literals.

A spec type is `bool`, `int`, `int64`, `uint16`, `uint32`, `uint64`, `float`, `str`,
`uuid`, `datetime`, `list[T]`, `dict[str, T]`, a model name, or any of those followed by
`?` (optional). `annotation()` returns the Python annotation plus the imports it needs,
so templates only substitute ready-made strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from atlas_gen.render.names import pascal

RUNTIME_TYPES = "atlas_runtime.service.types"

_SCALARS: dict[str, tuple[str, str | None]] = {
    "bool": ("bool", None),
    "int": ("int", None),
    "int64": ("Int64", RUNTIME_TYPES),
    "uint16": ("UInt16", RUNTIME_TYPES),
    "uint32": ("UInt32", RUNTIME_TYPES),
    "uint64": ("UInt64", RUNTIME_TYPES),
    "float": ("float", None),
    "str": ("str", None),
    "uuid": ("UUID", "uuid"),
    "datetime": ("datetime", "datetime"),
}

# The plain Python type of a registry key or path parameter, used for conversion at run time.
_KEY_TYPES = {"uuid": "UUID", "str": "str"}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_DURATION_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class SpecTypeError(ValueError):
    """A type string the renderer cannot translate (the validator should have caught it)."""


@dataclass
class Imports:
    """`from module import name` lines a rendered module needs, deduplicated."""

    names: set[tuple[str, str]] = field(default_factory=set)

    def add(self, module: str, name: str) -> None:
        """Record one import."""
        self.names.add((module, name))

    def lines(self, *, skip_module: str | None = None) -> list[str]:
        """Sorted import lines, one per module."""
        by_module: dict[str, set[str]] = {}
        for module, name in self.names:
            if module != skip_module:
                by_module.setdefault(module, set()).add(name)
        return [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(by_module.items())]


def annotation(spec_type: str, imports: Imports, *, models_module: str | None = None) -> str:
    """The Python annotation of a spec type, recording what it imports.

    Args:
        spec_type: e.g. `uint32`, `list[Member]`, `str?`.
        imports: where the needed imports are recorded.
        models_module: the module model names are imported from (None: same module).
    """
    text = spec_type.strip()
    if text.endswith("?"):
        return f"{annotation(text[:-1], imports, models_module=models_module)} | None"
    if text.startswith("list[") and text.endswith("]"):
        return f"list[{annotation(text[5:-1], imports, models_module=models_module)}]"
    if text.startswith("dict[") and text.endswith("]"):
        key, _, value = text[5:-1].partition(",")
        if key.strip() != "str" or not value.strip():
            raise SpecTypeError(f"unsupported dict type {spec_type!r}: expected dict[str, T]")
        return f"dict[str, {annotation(value, imports, models_module=models_module)}]"
    if text in _SCALARS:
        name, module = _SCALARS[text]
        if module:
            imports.add(module, name)
        return name
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", text):
        if models_module:
            imports.add(models_module, pascal(text))
        return pascal(text)
    raise SpecTypeError(f"unknown type {spec_type!r}")


def is_optional(spec_type: str) -> bool:
    """True for `T?`."""
    return spec_type.strip().endswith("?")


def key_type(spec_type: str) -> str:
    """The plain Python type name (`int`, `str`, `UUID`) a key or path parameter converts to."""
    base = spec_type.strip().rstrip("?")
    return _KEY_TYPES.get(base, "int" if base in _SCALARS and "int" in base else "str")


def seconds(duration: Any) -> float:
    """A spec duration (`250ms`, `30s`, `5m`, `1h`, `7d`, or a number of seconds) in seconds."""
    if isinstance(duration, int | float) and not isinstance(duration, bool):
        return float(duration)
    match = _DURATION.match(str(duration))
    if not match:
        raise SpecTypeError(f"bad duration {duration!r}: expected e.g. 250ms, 30s, 5m, 1h, 7d")
    return float(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def field_spec(raw: Any) -> Mapping[str, Any]:
    """A field given as a type string or as `{type, default, description, min, max}`, as a mapping."""
    if isinstance(raw, Mapping):
        return raw
    return {"type": str(raw)}
