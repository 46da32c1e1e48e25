"""Adapting user REST handlers (`async def handler(ctx, request) -> result`) to routes.

An `Endpoint` declares one method on one path: its handler, the JSON:API resource
type it answers with, typed path parameters, an optional body model, the status of
a success, and the scopes it needs. `endpoint_route` turns it into a Starlette route
that checks scopes, converts parameters (400 naming a bad one), parses the query
(paging and filters; declared filters are type-checked, 400 naming a bad one),
validates the body (422 with pointers, before the handler runs), builds the context,
calls the handler and renders its result.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.routing import Route

from atlas_runtime.auth.principal import Principal, current_principal, require_scopes
from atlas_runtime.errors import BadRequest
from atlas_runtime.rest.jsonapi import collection_document, parse_json, parse_resource_body, resource_document
from atlas_runtime.rest.pagination import Page, paginate, paginate_async
from atlas_runtime.rest.problems import JsonApiResponse
from atlas_runtime.rest.query import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageParams, Query, parse_query
from atlas_runtime.tenant import Tenant, current_tenant_or_none


@dataclass(frozen=True, slots=True)
class Request:
    """What a REST handler receives.

    Attributes:
        params: path parameters converted to their declared types.
        query: the parsed query string (`page`, `filters`, other `params`); also a
            read-only mapping of the plain parameters to their first value.
        body: the validated body model, or None when the endpoint takes no body.
        headers: the request headers (case-insensitive).
        tenant: the tenant the request runs as (None only on open routes).
        principal: the verified caller (None when auth is off).
        raw: the underlying Starlette request, for anything else.
    """

    params: Mapping[str, Any]
    query: Query
    body: Any
    headers: Mapping[str, str]
    tenant: Tenant | None
    principal: Principal | None
    raw: StarletteRequest


Handler = Callable[[Any, Request], Awaitable[Any] | AsyncIterable[Any]]
ContextFactory = Callable[[Request], Any]
"""Builds the handler's `ctx` for a request; may return the context or an awaitable of it."""


@dataclass(frozen=True)
class Endpoint:
    """One REST operation of a service.

    Attributes:
        method: HTTP method (`GET`, `POST`, ...).
        path: path below the base path, e.g. `/parties/{id}`.
        handler: `async def handler(ctx, request) -> result`.
        resource: the JSON:API `type` of the resources it answers with.
        params: path parameter name -> Python type (`int`, `uuid.UUID`, ...); others stay `str`.
        body: the body model; None for no body.
        status: the status of a success (default 200 with a result, 204 without).
        scopes: scopes the caller's token must carry.
        page_size: default `page[size]`.
        max_page_size: largest accepted `page[size]`.
        name: route name (default: the handler's qualified name).
        filters: `filter[<name>]` name -> the type its value must convert to (see
            `filter_type`); an undeclared filter, or a value that does not convert, is a 400.
            None (the default) accepts any filter unchecked.
    """

    method: str
    path: str
    handler: Handler
    resource: str
    params: Mapping[str, Any] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    status: int | None = None
    scopes: tuple[str, ...] = ()
    page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = MAX_PAGE_SIZE
    name: str | None = None
    filters: Mapping[str, Any] | None = None


def endpoint_route(endpoint: Endpoint, context: ContextFactory, *, prefix: str = "/api") -> Route:
    """A Starlette route serving `endpoint` under `prefix`; `context` builds each request's ctx."""
    converters = {name: TypeAdapter(kind) for name, kind in endpoint.params.items()}
    filters = _FilterCheck.of(endpoint)
    empty_query = Query(page=PageParams(number=1, size=endpoint.page_size))

    def read_query(raw: StarletteRequest) -> Query:
        if not raw.scope["query_string"]:
            return empty_query
        query = parse_query(
            raw.query_params.multi_items(), default_size=endpoint.page_size, max_size=endpoint.max_page_size
        )
        if filters is not None:
            filters.check(query.filters)
        return query

    async def serve(raw: StarletteRequest) -> Response:
        principal = current_principal()
        require_scopes(principal, endpoint.scopes)
        request = Request(
            params=_convert_params(raw.path_params, converters),
            query=read_query(raw),
            body=await _read_body(raw, endpoint) if endpoint.body is not None else None,
            headers=raw.headers,
            tenant=current_tenant_or_none(),
            principal=principal,
            raw=raw,
        )
        ctx = context(request)
        if inspect.isawaitable(ctx):
            ctx = await ctx
        # An async-generator handler is not awaited: its stream is the collection.
        outcome = endpoint.handler(ctx, request)
        result = await outcome if inspect.isawaitable(outcome) else outcome
        return await result_response(
            result, resource=endpoint.resource, request=request, status=endpoint.status
        )

    name = endpoint.name or getattr(endpoint.handler, "__qualname__", None)
    return Route(prefix + endpoint.path, serve, methods=[endpoint.method.upper()], name=name)


def needs_scopes(*scopes: str) -> Callable[[], Awaitable[None]]:
    """A FastAPI dependency for hand-written routes: 403 unless the token grants every scope.

    router = APIRouter(dependencies=[Depends(needs_scopes("sagas:admin"))])
    """

    async def check_scopes() -> None:
        require_scopes(current_principal(), scopes)

    return check_scopes


def _convert_params(raw: Mapping[str, str], converters: Mapping[str, TypeAdapter[Any]]) -> dict[str, Any]:
    params: dict[str, Any] = dict(raw)
    for name, adapter in converters.items():
        if name not in raw:
            continue
        try:
            params[name] = adapter.validate_strings(raw[name])
        except ValidationError as error:
            message = error.errors()[0].get("msg", "is invalid")
            raise BadRequest(f"path parameter {name} is {raw[name]!r}: {message}", parameter=name) from None
    return params


@dataclass(frozen=True, slots=True)
class _FilterCheck:
    """The declared filters of an endpoint, with a converter per filter."""

    path: str
    converters: Mapping[str, TypeAdapter[Any]]

    @classmethod
    def of(cls, endpoint: Endpoint) -> _FilterCheck | None:
        if endpoint.filters is None:
            return None
        return cls(endpoint.path, {name: TypeAdapter(kind) for name, kind in endpoint.filters.items()})

    def check(self, filters: Mapping[str, str]) -> None:
        """Raise BadRequest naming the first undeclared filter or unconvertible value."""
        unknown = sorted(set(filters) - set(self.converters))
        if unknown:
            allowed = ", ".join(f"filter[{name}]" for name in sorted(self.converters)) or "none"
            detail = f"unknown filter {unknown[0]!r} on {self.path} (allowed: {allowed})"
            raise BadRequest(detail, parameter=f"filter[{unknown[0]}]")
        for name, value in sorted(filters.items()):
            try:
                self.converters[name].validate_strings(value)
            except ValidationError as error:
                parameter = f"filter[{name}]"
                message = error.errors()[0].get("msg", "is invalid")
                raise BadRequest(f"{parameter} is {value!r}: {message}", parameter=parameter) from None


async def _read_body(raw: StarletteRequest, endpoint: Endpoint) -> BaseModel:
    assert endpoint.body is not None
    document = parse_json(await raw.body())
    return parse_resource_body(document, endpoint.body, resource_type=endpoint.resource)


async def result_response(
    result: Any, *, resource: str, request: Request, status: int | None = None
) -> Response:
    """The response for a handler's result.

    None is an empty response with `status` (default 204); a model or mapping is one
    resource; a list, iterable or async iterable is a collection, paged by the
    request's `page[...]` with `meta` and `links`.

    Raises:
        TypeError: the result is none of those.
    """
    if result is None:
        return Response(status_code=status or 204)
    if isinstance(result, BaseModel | Mapping):
        return JsonApiResponse(resource_document(resource, result), status_code=status or 200)
    page: Page[Any]
    if isinstance(result, AsyncIterable):
        page = await paginate_async(result, request.query.page)
    elif isinstance(result, Iterable) and not isinstance(result, str | bytes):
        page = paginate(result if isinstance(result, list | tuple) else list(result), request.query.page)
    else:
        raise TypeError(
            f"a REST handler returned {type(result).__name__}; expected a model, dict, list or None"
        )
    links = page.links(request.raw.url.path, request.raw.query_params.multi_items())
    document = collection_document(resource, page.items, meta=page.meta(), links=links)
    return JsonApiResponse(document, status_code=status or 200)
