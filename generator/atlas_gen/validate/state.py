"""Rules about registries: value models, key types, kind options, ids and indexes."""

from __future__ import annotations

from collections.abc import Iterator

from atlas_spec import RegistrySpec, TypeRef

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from ._resolve import did_you_mean, one_of, resolve_field_path

KEY_SCALARS = frozenset({"int", "int64", "uint16", "uint32", "uint64", "str", "uuid"})
_KIND_OPTION = {"ttl": "ttl", "flush": "coalesced"}
_EXAMPLE = {"ttl": "30s", "flush": "100ms"}


def _registries(ecosystem: Ecosystem) -> Iterator[tuple[SpecFile, str, RegistrySpec]]:
    for spec_file in ecosystem.files:
        for name, registry in spec_file.spec.state.items():
            yield spec_file, name, registry


def value_models_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """A registry's `value` is a declared model."""
    for spec_file, name, registry in _registries(ecosystem):
        models = spec_file.spec.models
        if registry.value not in models:
            message = f"registry `{name}` stores unknown model `{registry.value}`" + did_you_mean(
                registry.value, models
            )
            yield spec_file.diagnostic(("state", name, "value"), "E021", message, expected=one_of(models))


def keys_are_scalars(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """A key is a required integer, `str` or `uuid`; `ids` needs an integer key."""
    for spec_file, name, registry in _registries(ecosystem):
        key = registry.key
        if key.kind != "scalar" or key.optional or key.name not in KEY_SCALARS:
            yield spec_file.diagnostic(
                ("state", name, "key"),
                "E032",
                f"registry `{name}` cannot be keyed by `{key}`",
                expected="an integer type, `str` or `uuid`",
            )
        elif registry.ids is not None and not key.is_integer:
            yield spec_file.diagnostic(
                ("state", name, "ids"),
                "E032",
                f"`ids` needs an integer key, and `{name}` is keyed by `{key}`",
            )
        elif registry.ids is not None and key.scalar and registry.ids.start > (key.scalar.maximum or 0):
            yield spec_file.diagnostic(
                ("state", name, "ids", "start"),
                "E032",
                f"ids of `{name}` start at {registry.ids.start}, past the largest `{key}` key",
                expected=f"a start of at most {key.scalar.maximum}",
            )


def kind_options_match(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """kind `ttl` needs `ttl`, kind `coalesced` needs `flush`, and only they take them.

    A coalesced registry buffers its writes, so it keeps no index and hands out no ids.
    """
    for spec_file, name, registry in _registries(ecosystem):
        if registry.kind == "coalesced":
            for option in ("ids", "indexes"):
                if getattr(registry, option):
                    yield spec_file.diagnostic(
                        ("state", name, option),
                        "E032",
                        f"kind `coalesced` takes no `{option}`: its writes are buffered",
                        key=True,
                        expected="kind `registry` or `ttl` for ids and index lookups",
                    )
        for option, kind in _KIND_OPTION.items():
            value = getattr(registry, option)
            if registry.kind == kind and value is None:
                yield spec_file.diagnostic(
                    ("state", name),
                    "E032",
                    f"registry `{name}` of kind `{kind}` needs `{option}`",
                    key=True,
                    expected=f"`{option}:` with a duration, like `{option}: {_EXAMPLE[option]}`",
                )
            elif registry.kind != kind and value is not None:
                yield spec_file.diagnostic(
                    ("state", name, option),
                    "E032",
                    f"`{option}` applies to kind `{kind}`, not `{registry.kind}`",
                    key=True,
                )


_INDEXABLE = "an integer, `str`, `uuid` or `datetime` field, or a list of them"


def _index_problem(ref: TypeRef) -> str | None:
    leaf = ref
    while leaf.kind == "list" and leaf.item is not None:
        leaf = leaf.item
    if leaf.kind != "scalar" or leaf.name in ("float", "bool"):
        return f"cannot index a `{ref}` field"
    return None


def index_fields_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """An index `field` is a path of the value model that ends at a scalar (or list of them)."""
    for spec_file, name, registry in _registries(ecosystem):
        if registry.value not in spec_file.spec.models:
            continue
        for index_name, index in registry.indexes.items():
            loc = ("state", name, "indexes", index_name, "field")
            resolved = resolve_field_path(spec_file.spec, registry.value, index.field)
            if isinstance(resolved, str):
                yield spec_file.diagnostic(loc, "E026", f"index `{index_name}` of `{name}`: {resolved}")
            elif (problem := _index_problem(resolved)) is not None:
                yield spec_file.diagnostic(
                    loc, "E033", f"index `{index_name}` of `{name}`: {problem}", expected=_INDEXABLE
                )


RULES = (value_models_exist, keys_are_scalars, kind_options_match, index_fields_exist)
