"""Values stored in Redis registries: keys, layouts and the fields stored values carry."""

from __future__ import annotations

from collections.abc import Iterator

from atlas_spec import RegistrySpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from .common import OPTIONAL, Fields, Loc, field_gaps, finding, pairs, spelled, type_loc


def registries(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """Stored values stay readable: a registry keeps its key, kind, scope and a compatible value."""
    for old_file, new_file in pairs(old, new):
        for name, before in old_file.spec.state.items():
            after = new_file.spec.state.get(name)
            if after is None:
                message = f"registry `{name}` is removed; the values stored in it are orphaned"
                yield finding(new_file, ("state", name), "B011", message)
                continue
            yield from _registry_layout(new_file, name, before, after)
            yield from _stored_values((old_file, before), (new_file, after), name)


def _registry_layout(
    file: SpecFile, name: str, before: RegistrySpec, after: RegistrySpec
) -> Iterator[Diagnostic]:
    loc: Loc = ("state", name)
    if str(before.key) != str(after.key):
        message = (
            f"the key of `{name}` changes from `{before.key}` to `{after.key}`; stored keys no longer match"
        )
        yield finding(file, (*loc, "key"), "B010", message, value=True)
    if before.kind != after.kind:
        message = f"`{name}` changes kind from `{before.kind}` to `{after.kind}`; its stored layout differs"
        yield finding(file, (*loc, "kind"), "B012", message, value=True)
    if before.scope != after.scope:
        message = (
            f"`{name}` changes scope from `{before.scope}` to `{after.scope}`; "
            "its keys are laid out differently, so stored values are not found"
        )
        yield finding(file, (*loc, "scope"), "B013", message, value=True)


def _stored_values(
    old: tuple[SpecFile, RegistrySpec], new: tuple[SpecFile, RegistrySpec], name: str
) -> Iterator[Diagnostic]:
    (old_file, before), (new_file, after) = old, new
    reader = Fields(new_file.spec, new_file.spec.models.get(after.value, {}))
    sender = Fields(old_file.spec, old_file.spec.models.get(before.value, {}))
    model = after.value
    for gap in field_gaps(reader, sender):
        loc: Loc = ("models", model, gap.name)
        what = f"field `{gap.name}` of `{model}` (the values of `{name}`)"
        if gap.kind == "missing":
            message = f"{what} has no default, so values stored without it no longer decode"
            yield finding(new_file, loc, "B014", message, expected=OPTIONAL)
        elif gap.kind == "dropped":
            message = f"{what} is removed; what is stored in it is lost on the next write"
            yield finding(new_file, loc, "B016", message)
        elif gap.read is not None and gap.sent is not None:
            read, sent = (new_file.spec, gap.read.type), (old_file.spec, gap.sent.type)
            message = (
                f"{what} changes from `{spelled(sent, read)}` to `{spelled(read, sent)}`; "
                "values stored before no longer decode"
            )
            yield finding(new_file, type_loc(new_file, loc), "B015", message, value=True)
