"""Serving services: one per process (`serve`), or a whole ecosystem in one process (`serve_many`).

`serve_many` is the local trial of `atlas-gen up`: every service's routes on one port
(as the ingress would route them), all on embedded defaults unless configured.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.rest.app import create_app, readiness_of
from atlas_runtime.rest.handlers import Endpoint, Handler, Request
from atlas_runtime.rest.server import serve as serve_app
from atlas_runtime.rest.settings import RestSettings
from atlas_runtime.service.assembly import Service
from atlas_runtime.service.description import ServiceDescription
from atlas_runtime.service.routes import build_endpoint

log = logging.getLogger("atlas_runtime.service")


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """Log to stderr at `level` (LOG_LEVEL), unless the application set up logging itself."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT)


def serve(description: ServiceDescription) -> None:
    """Run one service until SIGTERM/SIGINT: REST on REST_HOST:REST_PORT, tasks, messaging."""
    service = Service(description)
    configure_logging(service.settings.log_level)
    app = service.create_app()
    asyncio.run(serve_app(app, service.settings.rest_host, service.settings.rest_port))


def _bound(handler: Handler, service: Service) -> Handler:
    """A handler that builds its own service's context, for an app shared by several services."""

    def call(_: Any, request: Request) -> Any:
        # Async generator handlers return their iterator; coroutine handlers their awaitable.
        return handler(service.context(request.tenant), request)

    return call


def ecosystem_endpoints(services: Sequence[Service]) -> list[Endpoint]:
    """Every service's endpoints, each bound to its own service's context.

    Raises:
        ConfigurationError: two services declare the same method and path.
    """
    owners: dict[tuple[str, str], str] = {}
    endpoints = []
    for service in services:
        registries = service.state.registries
        for decl in service.description.endpoints:
            route = (decl.method, decl.path)
            if route in owners:
                both = f"{owners[route]} and {service.description.name}"
                raise ConfigurationError(f"{decl.method} /api{decl.path} is declared by both {both}")
            owners[route] = service.description.name
            endpoint = build_endpoint(decl, registries.__getitem__)
            endpoints.append(
                Endpoint(
                    method=endpoint.method,
                    path=endpoint.path,
                    handler=_bound(endpoint.handler, service),
                    resource=endpoint.resource,
                    params=endpoint.params,
                    body=endpoint.body,
                    status=endpoint.status,
                    scopes=endpoint.scopes,
                    filters=endpoint.filters,
                    name=f"{service.description.name}: {endpoint.name}",
                )
            )
    return endpoints


def ecosystem_app(services: Sequence[Service], *, rest: RestSettings | None = None) -> FastAPI:
    """One app serving every service's routes; its lifespan starts and stops them all."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for service in services:
                await stack.enter_async_context(service)
                service.mount_sagas(app)
            yield

    app = create_app("atlas", endpoints=ecosystem_endpoints(services), settings=rest, lifespan=lifespan)
    for service in services:
        readiness_of(app).on_drain(service.stop_consuming)
    return app


def serve_many(
    descriptions: Sequence[ServiceDescription], *, host: str | None = None, port: int | None = None
) -> None:
    """Run several services in this process, their routes on one port, until SIGTERM/SIGINT."""
    services = [Service(d) for d in descriptions]
    configure_logging(services[0].settings.log_level if services else "INFO")
    names = ", ".join(d.name for d in descriptions)
    log.warning(
        "running %d services in one process (%s): a local trial, not a deployment", len(services), names
    )
    asyncio.run(serve_app(ecosystem_app(services), host, port))
