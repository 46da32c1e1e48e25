"""Sagas in flight: their types and steps."""

from __future__ import annotations

from collections.abc import Iterator

from atlas_spec import SagaSpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from .common import Loc, finding, pairs


def sagas(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """Saga instances in flight keep their type and steps (warnings: they may be stranded)."""
    for old_file, new_file in pairs(old, new):
        for name, before in old_file.spec.sagas.items():
            after = new_file.spec.sagas.get(name)
            if after is None:
                message = f"saga `{name}` is removed; instances in flight are stranded"
                yield finding(new_file, ("sagas", name), "B050", message)
            else:
                yield from _saga_steps(new_file, name, before, after)


def _saga_steps(file: SpecFile, name: str, before: SagaSpec, after: SagaSpec) -> Iterator[Diagnostic]:
    old_names = [step.name for step in before.steps]
    new_names = [step.name for step in after.steps]
    loc: Loc = ("sagas", name, "steps")
    for step in old_names:
        if step not in new_names:
            message = f"step `{step}` of saga `{name}` is removed; instances in flight at it are stranded"
            yield finding(file, loc, "B051", message)
    kept = [step for step in old_names if step in new_names]
    for index, step in enumerate(new_names):
        if step not in old_names:
            message = f"step `{step}` is added to saga `{name}`; instances in flight have no state for it"
            yield finding(file, (*loc, index), "B052", message)
    if kept != [step for step in new_names if step in old_names]:
        message = f"the steps of saga `{name}` are reordered; instances in flight ran them in the old order"
        yield finding(file, loc, "B052", message)
