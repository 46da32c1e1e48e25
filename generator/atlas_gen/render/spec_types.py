"""Spec types as the annotations of generated code, with the imports they need.

The type grammar is atlas_spec's: fields arrive as parsed `TypeRef` trees. What is
render-specific is the names: an integer scalar becomes the runtime's bounded type
(`UInt32` from `atlas_runtime.service.types`), `uuid` becomes `UUID`, a model its class.
`annotation()` returns the annotation and records its imports, so templates only
substitute ready-made strings. A class whose field is named like a type it annotates
(`int: int?`) would hide that type from its own annotations, so such names are qualified
by their module (`builtins.int`, `_datetime.datetime`), given as `shadowed`. Durations are
already `timedelta`s; `seconds()` gives the float the runtime's declarations take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from atlas_spec import TypeRef

RUNTIME_TYPES = "atlas_runtime.service.types"

# Scalar name -> (name in generated code, module it is imported from; None for builtins).
_SCALARS: dict[str, tuple[str, str | None]] = {
    "bool": ("bool", None),
    "int": ("Int32", RUNTIME_TYPES),
    "int64": ("Int64", RUNTIME_TYPES),
    "uint16": ("UInt16", RUNTIME_TYPES),
    "uint32": ("UInt32", RUNTIME_TYPES),
    "uint64": ("UInt64", RUNTIME_TYPES),
    "float": ("float", None),
    "str": ("str", None),
    "uuid": ("UUID", "uuid"),
    "datetime": ("datetime", "datetime"),
}


@dataclass
class Imports:
    """`from module import name` and `import module` lines a rendered module needs, deduplicated."""

    names: set[tuple[str, str]] = field(default_factory=set)
    modules: set[str] = field(default_factory=set)

    def add(self, module: str, name: str) -> None:
        """Record one import."""
        self.names.add((module, name))

    def qualified(self, module: str | None, name: str) -> str:
        """`name` reached through its module (`builtins.int`), which no class attribute can hide."""
        if module is None:
            self.modules.add("builtins")
            return f"builtins.{name}"
        alias = "_" + module.rsplit(".", 1)[-1]
        self.modules.add(f"{module} as {alias}")
        return f"{alias}.{name}"

    def lines(self, *, skip_module: str | None = None) -> list[str]:
        """Sorted import lines, one per module."""
        by_module: dict[str, set[str]] = {}
        for module, name in self.names:
            if module != skip_module:
                by_module.setdefault(module, set()).add(name)
        plain = [f"import {m}" for m in sorted(self.modules)]
        return plain + [f"from {m} import {', '.join(sorted(n))}" for m, n in sorted(by_module.items())]


def annotation(
    ref: TypeRef,
    imports: Imports,
    *,
    models_module: str | None = None,
    shadowed: frozenset[str] = frozenset(),
) -> str:
    """The annotation of a spec type in generated code, e.g. `list[UInt32] | None`.

    Args:
        ref: the parsed spec type.
        imports: where the needed imports are recorded.
        models_module: the module model names are imported from (None: same module).
        shadowed: names the annotated class binds itself (its field names), qualified here.
    """

    def name_of(module: str | None, name: str) -> str:
        if name in shadowed:
            return imports.qualified(module, name)
        if module:
            imports.add(module, name)
        return name

    if ref.optional:
        return f"{annotation(ref.required(), imports, models_module=models_module, shadowed=shadowed)} | None"
    if ref.item is not None:
        item = annotation(ref.item, imports, models_module=models_module, shadowed=shadowed)
        if ref.kind == "list":
            return f"{name_of(None, 'list')}[{item}]"
        return f"{name_of(None, 'dict')}[{name_of(None, 'str')}, {item}]"
    if ref.kind == "model":
        # A field named like a model is refused by the validator, so models are never shadowed.
        if models_module:
            imports.add(models_module, ref.name)
        return ref.name
    generated, module = _SCALARS[ref.name]
    return name_of(module, generated)


def key_type(ref: TypeRef) -> str:
    """The plain Python type (`int`, `str`, `UUID`) a registry key or path parameter converts to."""
    if ref.is_integer:
        return "int"
    return "UUID" if ref.name == "uuid" else "str"


def seconds(duration: timedelta | None) -> float | None:
    """A duration in seconds, as the runtime's declarations take it (None stays None)."""
    return duration.total_seconds() if duration is not None else None
