"""REST endpoints of a service: registry operations (`get`, `list`, `remove`) and handler routes.

Registry operations need no user code: `get` answers one resource or 404, `remove`
answers 204 or 404, `list` pages the registry sorted by key (stable pages) or, with
`filter[<name>]` parameters declared in the spec, the keys an index lookup returns.
A `list` endpoint declares its filters with the type of each index's field, so an
undeclared filter or a value of the wrong type is a 400 before any lookup.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from atlas_runtime.errors import NotFound
from atlas_runtime.rest.handlers import Endpoint, Handler, Request
from atlas_runtime.rest.query import filter_type
from atlas_runtime.service.context import run_handler
from atlas_runtime.service.description import EndpointDecl
from atlas_runtime.service.refs import resolve

RegistryLookup = Callable[[str], Any]


def _key_param(decl: EndpointDecl) -> str:
    if not decl.params:
        raise ValueError(
            f"{decl.method} {decl.path}: a `{decl.action}` endpoint needs a key parameter in its path"
        )
    return list(decl.params)[-1]


def as_resource(key: object, value: BaseModel) -> dict[str, Any]:
    """A registry value as a resource: its `id` field, or the registry key when it has none."""
    attributes = value.model_dump(mode="json", by_alias=True)
    attributes.setdefault("id", key)
    return attributes


def _get_handler(decl: EndpointDecl, registry: RegistryLookup) -> Handler:
    param = _key_param(decl)
    name = decl.registry or ""

    async def get(ctx: Any, request: Request) -> dict[str, Any]:
        key = request.params[param]
        value = await registry(name).get(key)
        if value is None:
            raise NotFound(f"no {decl.resource} with id {key}")
        return as_resource(key, value)

    return get


def _remove_handler(decl: EndpointDecl, registry: RegistryLookup) -> Handler:
    param = _key_param(decl)
    name = decl.registry or ""

    async def remove(ctx: Any, request: Request) -> None:
        key = request.params[param]
        # A coalesced registry's remove answers None (buffered): only an explicit False is a miss.
        if await registry(name).remove(key) is False:
            raise NotFound(f"no {decl.resource} with id {key}")

    return remove


def _filter_types(decl: EndpointDecl, registry: RegistryLookup) -> dict[str, Any] | None:
    """Each declared filter of a `list` endpoint -> the type of its index's field."""
    if decl.action != "list":
        return None
    if not decl.filters:
        return {}
    store = registry(decl.registry or "")
    model = store.value_type
    return {name: filter_type(model, store.indexes[index].field) for name, index in decl.filters.items()}


def _filter_indexes(decl: EndpointDecl, filters: Mapping[str, str]) -> list[tuple[str, str]]:
    # `endpoint_route` has rejected undeclared filters and values of the wrong type.
    return [(decl.filters[name], value) for name, value in sorted(filters.items())]


def _list_handler(decl: EndpointDecl, registry: RegistryLookup) -> Handler:
    name = decl.registry or ""

    async def list_values(ctx: Any, request: Request) -> list[dict[str, Any]]:
        store = registry(name)
        lookups = _filter_indexes(decl, request.query.filters)
        if not lookups:
            items = [(key, value) async for key, value in store.items()]
        else:
            keys: set[Any] | None = None
            for index, value in lookups:
                found = set(await store.lookup(index, value))
                keys = found if keys is None else keys & found
            fetched = [(key, await store.get(key)) for key in keys or ()]
            items = [(key, value) for key, value in fetched if value is not None]
        return [as_resource(key, value) for key, value in sorted(items, key=lambda kv: kv[0])]

    return list_values


def _finishing(handler: Callable[..., Any]) -> Handler:
    """Commit (or roll back) the handler's database session when it returns (or raises)."""
    if inspect.isasyncgenfunction(handler):
        return handler  # a streamed collection outlives the call; it gets no session lifecycle

    async def call(ctx: Any, request: Request) -> Any:
        return await run_handler(handler, ctx, request)

    return call


def build_endpoint(decl: EndpointDecl, registry: RegistryLookup) -> Endpoint:
    """The runtime endpoint of one declared route; handler references are imported here."""
    if decl.action == "handler":
        handler = _finishing(resolve(decl.handler or "", where=f"endpoint {decl.method} {decl.path}"))
    else:
        factory = {"get": _get_handler, "remove": _remove_handler, "list": _list_handler}[decl.action]
        handler = factory(decl, registry)
    return Endpoint(
        method=decl.method,
        path=decl.path,
        handler=handler,
        resource=decl.resource,
        params=dict(decl.params),
        body=decl.body,
        status=decl.status,
        scopes=decl.scopes,
        name=f"{decl.method} {decl.path}",
        filters=_filter_types(decl, registry),
    )
