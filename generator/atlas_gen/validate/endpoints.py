"""Rules about REST endpoints: registries, indexes and path parameters line up.

`get`/`remove` read one value by its key: the path has exactly one parameter, typed as
the registry key. A `list` path parameter narrows the list through the filter of the
same name. Declared `params` must appear in the path, and one path parameter has one
type across the methods of its path.
"""

from __future__ import annotations

from collections.abc import Iterator

from atlas_spec import GetOperation, ListOperation, Operation, RemoveOperation, TypeRef, path_parameters

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from ._resolve import did_you_mean, one_of

Loc = tuple[str | int, ...]


def _registry_of(operation: Operation) -> tuple[str, str] | None:
    if isinstance(operation, GetOperation):
        return "get", operation.get
    if isinstance(operation, ListOperation):
        return "list", operation.list
    if isinstance(operation, RemoveOperation):
        return "remove", operation.remove
    return None


def _operations(ecosystem: Ecosystem) -> Iterator[tuple[SpecFile, str, Loc, Operation]]:
    for spec_file in ecosystem.files:
        for path, methods in spec_file.spec.endpoints.items():
            for method, operation in methods.items():
                yield spec_file, path, ("endpoints", path, method), operation


def registries_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """`get`, `list` and `remove` name a registry of the service."""
    for spec_file, _, loc, operation in _operations(ecosystem):
        bound = _registry_of(operation)
        state = spec_file.spec.state
        if bound is not None and bound[1] not in state:
            key, name = bound
            message = f"unknown registry `{name}`" + did_you_mean(name, state)
            yield spec_file.diagnostic((*loc, key), "E023", message, expected=one_of(state))


def filters_name_indexes(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Each `filters` entry of a `list` names an index of the listed registry."""
    for spec_file, path, loc, operation in _operations(ecosystem):
        if not isinstance(operation, ListOperation) or operation.list not in spec_file.spec.state:
            continue
        indexes = spec_file.spec.state[operation.list].indexes
        for query, index in operation.filters.items():
            if index not in indexes:
                message = (
                    f"filter `{query}`: registry `{operation.list}` has no index `{index}`"
                    + did_you_mean(index, indexes)
                )
                yield spec_file.diagnostic(
                    (*loc, "filters", query), "E024", message, expected=one_of(indexes)
                )
        for parameter in path_parameters(path):
            if parameter not in operation.filters:
                yield spec_file.diagnostic(
                    loc,
                    "E030",
                    f"path parameter `{parameter}` of a `list` must name one of its `filters`",
                    key=True,
                    expected=f"`filters: {{{parameter}: <index>}}`",
                )


def _key_parameter(spec_file: SpecFile, path: str, loc: Loc, operation: Operation) -> Iterator[Diagnostic]:
    bound = _registry_of(operation)
    if bound is None or bound[0] == "list" or bound[1] not in spec_file.spec.state:
        return
    key, registry = bound
    parameters = path_parameters(path)
    if len(parameters) != 1:
        found = ", ".join(f"`{name}`" for name in parameters) or "none"
        yield spec_file.diagnostic(
            (*loc, key),
            "E030",
            f"`{key}: {registry}` needs exactly one path parameter (the key), `{path}` has {found}",
            expected=f"a path like `/{registry}/{{id}}`",
        )
        return
    key_type = spec_file.spec.state[registry].key
    declared = operation.params.get(parameters[0])
    if declared is not None and str(declared) != str(key_type):
        yield spec_file.diagnostic(
            (*loc, "params", parameters[0]),
            "E031",
            f"path parameter `{parameters[0]}` is `{declared}`, but `{registry}` is keyed by `{key_type}`",
            expected=f"`{key_type}`",
        )


def key_parameters_match(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """`get`/`remove` paths carry one parameter, typed as the registry key."""
    for spec_file, path, loc, operation in _operations(ecosystem):
        yield from _key_parameter(spec_file, path, loc, operation)


def _parameter_type(spec_file: SpecFile, operation: Operation, name: str) -> TypeRef | None:
    bound = _registry_of(operation)
    if bound is not None and bound[0] != "list" and bound[1] in spec_file.spec.state:
        return spec_file.spec.state[bound[1]].key
    return operation.params.get(name)


def declared_parameters_exist(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """`params` name parameters of the path; a parameter has one type across methods."""
    for spec_file in ecosystem.files:
        for path, methods in spec_file.spec.endpoints.items():
            parameters = path_parameters(path)
            seen: dict[str, tuple[str, TypeRef]] = {}
            for method, operation in methods.items():
                loc: Loc = ("endpoints", path, method)
                for name in operation.params:
                    if name not in parameters:
                        yield spec_file.diagnostic(
                            (*loc, "params", name),
                            "E030",
                            f"`{name}` is not a parameter of `{path}`",
                            key=True,
                            expected=one_of(parameters),
                        )
                for name in parameters:
                    typed = _parameter_type(spec_file, operation, name)
                    if typed is None:
                        continue
                    if name in seen and str(seen[name][1]) != str(typed):
                        yield spec_file.diagnostic(
                            loc,
                            "E031",
                            f"path parameter `{name}` is `{typed}` here "
                            f"but `{seen[name][1]}` for `{seen[name][0]}`",
                            key=True,
                        )
                    seen.setdefault(name, (method, typed))


RULES = (registries_exist, filters_name_indexes, key_parameters_match, declared_parameters_exist)
