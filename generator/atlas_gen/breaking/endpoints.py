"""REST endpoints: what callers send and read keeps working."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from atlas_spec import (
    FieldSpec,
    GetOperation,
    HandlerOperation,
    ListOperation,
    Operation,
    RemoveOperation,
    ServiceSpec,
    TypeRef,
    path_parameters,
)

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from .common import OPTIONAL, Fields, Gap, Loc, Typed, accepts, field_gaps, finding, pairs, spelled, type_loc

_PARAMETER = re.compile(r"\{[^}]*\}")


@dataclass(frozen=True)
class _Route:
    """An endpoint in both versions (its parameters may be renamed)."""

    method: str
    old_file: SpecFile
    old_path: str
    old_operation: Operation
    new_file: SpecFile
    new_path: str
    new_operation: Operation

    @property
    def loc(self) -> Loc:
        return ("endpoints", self.new_path, self.method)

    @property
    def name(self) -> str:
        return f"`{self.method.upper()} {self.new_path}`"


def _routes(spec: ServiceSpec) -> dict[tuple[str, str], tuple[str, Operation]]:
    """(method, path with unnamed parameters) -> (path, operation)."""
    return {
        (method, _PARAMETER.sub("{}", path)): (path, operation)
        for path, methods in spec.endpoints.items()
        for method, operation in methods.items()
    }


def _matched_routes(old: Ecosystem, new: Ecosystem) -> Iterator[_Route]:
    for old_file, new_file in pairs(old, new):
        after = _routes(new_file.spec)
        for key, (old_path, old_operation) in _routes(old_file.spec).items():
            if key in after:
                new_path, new_operation = after[key]
                yield _Route(key[0], old_file, old_path, old_operation, new_file, new_path, new_operation)


def endpoints_kept(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """Every endpoint (method and path) callers use is still served."""
    for old_file, new_file in pairs(old, new):
        after = _routes(new_file.spec)
        for key, (path, _) in _routes(old_file.spec).items():
            if key not in after:
                message = f"`{key[0].upper()} {path}` is removed; its callers get an error"
                yield finding(new_file, ("endpoints", path, key[0]), "B030", message)


def _keyed_registry(operation: Operation) -> str | None:
    """The registry a `get` or `remove` reads by the key in the path."""
    if isinstance(operation, GetOperation):
        return operation.get
    return operation.remove if isinstance(operation, RemoveOperation) else None


def _parameter_types(spec: ServiceSpec, path: str, operation: Operation) -> list[tuple[str, str]]:
    """Each path parameter and its type: the registry key, the declared `params` type, else `str`."""
    registry = spec.state.get(_keyed_registry(operation) or "")
    key = str(registry.key) if registry is not None else None
    return [(name, key or str(operation.params.get(name, "str"))) for name in path_parameters(path)]


def path_parameters_kept(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """Path parameters keep their types, so the URLs callers build still parse."""
    for route in _matched_routes(old, new):
        before = _parameter_types(route.old_file.spec, route.old_path, route.old_operation)
        after = _parameter_types(route.new_file.spec, route.new_path, route.new_operation)
        for (_, old_type), (name, new_type) in zip(before, after, strict=True):
            if old_type != new_type:
                message = (
                    f"path parameter `{name}` of {route.name} changes type from `{old_type}` to `{new_type}`"
                )
                yield finding(route.new_file, (*route.loc, "params", name), "B031", message, value=True)


def _unwrap(ref: TypeRef) -> TypeRef:
    return ref.item if ref.kind == "list" and ref.item is not None else ref


def _record(spec: ServiceSpec, ref: TypeRef) -> Mapping[str, FieldSpec] | None:
    """The fields of the model a type names, or of the model its list holds; None for other types."""
    ref = _unwrap(ref)
    return spec.models.get(ref.name) if ref.kind == "model" else None


def _record_gaps(reader: Typed, sender: Typed, *, defaults_sent: bool = True) -> list[Gap] | None:
    """Field gaps between two models (or two lists of models); None when they are not both that."""
    read_fields, sent_fields = _record(*reader), _record(*sender)
    if read_fields is None or sent_fields is None or (reader[1].kind == "list") != (sender[1].kind == "list"):
        return None
    sides = Fields(reader[0], read_fields), Fields(sender[0], sent_fields, defaults_sent)
    return [gap for gap in field_gaps(*sides) if gap.kind != "dropped"]


def _body(operation: Operation) -> TypeRef | None:
    return operation.body if isinstance(operation, HandlerOperation) else None


def request_bodies(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """A request body gains no field callers must send and keeps its field types."""
    for route in _matched_routes(old, new):
        after = _body(route.new_operation)
        if after is not None:
            yield from _body_changes(route, _body(route.old_operation), after)


def _body_changes(route: _Route, before: TypeRef | None, after: TypeRef) -> Iterator[Diagnostic]:
    new_spec, old_spec = route.new_file.spec, route.old_file.spec
    body_loc: Loc = (*route.loc, "body")
    fields = _record(new_spec, after) if after.kind == "model" else None
    if before is None and fields is None:
        message = f"{route.name} now needs a `{after}` body; callers send none"
        yield finding(route.new_file, body_loc, "B032", message, value=True)
        return
    if before is None:
        gaps = list(field_gaps(Fields(new_spec, fields or {}), Fields(old_spec, {})))
    else:
        found = _record_gaps((new_spec, after), (old_spec, before), defaults_sent=False)
        if found is None:
            if not accepts((new_spec, after), (old_spec, before)):
                message = f"the body of {route.name} changes from `{before}` to `{after}`"
                yield finding(route.new_file, body_loc, "B033", message, value=True)
            return
        gaps = found
    yield from _body_gaps(route, old_spec, _unwrap(after).name, gaps)


def _body_gaps(route: _Route, old_spec: ServiceSpec, model: str, gaps: list[Gap]) -> Iterator[Diagnostic]:
    new_spec = route.new_file.spec
    for gap in gaps:
        loc: Loc = ("models", model, gap.name)
        what = f"field `{gap.name}` of `{model}` (the body of {route.name})"
        if gap.kind == "missing":
            message = f"{what} is required, but callers do not send it"
            yield finding(route.new_file, loc, "B032", message, expected=OPTIONAL)
        elif gap.read is not None and gap.sent is not None:
            read, sent = (new_spec, gap.read.type), (old_spec, gap.sent.type)
            message = (
                f"{what} is now read as `{spelled(read, sent)}`, but callers send `{spelled(sent, read)}`"
            )
            yield finding(route.new_file, type_loc(route.new_file, loc), "B033", message, value=True)


def _response(spec: ServiceSpec, operation: Operation) -> TypeRef | None:
    """What an operation returns: the handler's `returns`, or the registry's value (a list for `list`)."""
    if isinstance(operation, HandlerOperation):
        return operation.returns
    if isinstance(operation, GetOperation):
        declared = spec.state.get(operation.get)
        return TypeRef("model", declared.value) if declared is not None else None
    if isinstance(operation, ListOperation):
        declared = spec.state.get(operation.list)
        return TypeRef("list", item=TypeRef("model", declared.value)) if declared is not None else None
    return None


def responses(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """A response keeps every field callers read, with the same types."""
    for route in _matched_routes(old, new):
        before = _response(route.old_file.spec, route.old_operation)
        if before is not None:
            yield from _response_changes(route, before, _response(route.new_file.spec, route.new_operation))


def _response_changes(route: _Route, before: TypeRef, after: TypeRef | None) -> Iterator[Diagnostic]:
    new_spec, old_spec = route.new_file.spec, route.old_file.spec
    gaps = _record_gaps((old_spec, before), (new_spec, after)) if after is not None else None
    if gaps is None:
        if after is None or not accepts((old_spec, before), (new_spec, after)):
            returned = f"`{after}`" if after is not None else "nothing"
            message = f"{route.name} now returns {returned}, but callers read `{before}`"
            yield finding(route.new_file, route.loc, "B034", message)
        return
    model = _unwrap(after or before).name
    for gap in gaps:
        loc: Loc = ("models", model, gap.name)
        what = f"field `{gap.name}` of `{model}` (returned by {route.name})"
        if gap.read is not None and gap.sent is not None:
            read, sent = (old_spec, gap.read.type), (new_spec, gap.sent.type)
            change = f"is now `{spelled(sent, read)}`, but callers read `{spelled(read, sent)}`"
            yield finding(
                route.new_file, type_loc(route.new_file, loc), "B034", f"{what} {change}", value=True
            )
        else:
            yield finding(route.new_file, loc, "B034", f"{what} is no longer returned, but callers read it")


def endpoint_scopes(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """A newly required token scope turns away callers whose tokens lack it (warning)."""
    for route in _matched_routes(old, new):
        added = [scope for scope in route.new_operation.scopes if scope not in route.old_operation.scopes]
        if added:
            names = ", ".join(f"`{scope}`" for scope in added)
            message = f"{route.name} now requires the scopes {names}; callers without them get 403"
            yield finding(route.new_file, (*route.loc, "scopes"), "B035", message, value=True)
