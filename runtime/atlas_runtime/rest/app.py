"""The app factory every generated service is served by.

    app = create_app(
        "parties",
        endpoints=[Endpoint("GET", "/parties/{id}", get_party, "parties", params={"id": int})],
        context=build_ctx,
        readiness_checks={"redis": redis.ping},
    )

The app serves `/api/...` with JSON:API documents and errors, tenant headers and a
bearer token on every route but `/api/health`, `/api/readyz` and `/metrics`, request
ids, trace context, a body size limit and per-route metrics. It refuses to be built
with authentication on and no keys (`ConfigurationError`); `AUTH_MODE=off` is the
only way to serve without tokens, and it is logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from atlas_runtime.auth.settings import AuthSettings
from atlas_runtime.auth.verifier import TokenVerifier
from atlas_runtime.rest.handlers import ContextFactory, Endpoint, endpoint_route
from atlas_runtime.rest.health import Readiness, ReadinessCheck, health_endpoint
from atlas_runtime.rest.metrics import RouteMetrics
from atlas_runtime.rest.middleware import (
    BodyLimitMiddleware,
    ErrorMiddleware,
    RequestContextMiddleware,
    TenantGuardMiddleware,
)
from atlas_runtime.rest.problems import EXCEPTION_HANDLERS
from atlas_runtime.rest.settings import RestSettings

log = logging.getLogger("atlas_runtime.rest")

BASE_PATH = "/api"
HEALTH_PATH = "/api/health"
READINESS_PATH = "/api/readyz"
METRICS_PATH = "/metrics"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def create_app(
    service: str,
    *,
    endpoints: Sequence[Endpoint] = (),
    context: ContextFactory | None = None,
    routers: Sequence[APIRouter] = (),
    readiness_checks: Mapping[str, ReadinessCheck] | Sequence[ReadinessCheck] = (),
    settings: RestSettings | None = None,
    auth: AuthSettings | None = None,
    verifier: TokenVerifier | None = None,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """Build the ASGI app of a service.

    Args:
        service: the service name (logs, metrics, the OpenAPI title).
        endpoints: REST operations served under `/api`.
        context: builds each handler's `ctx` from the request (default: None as ctx).
        routers: hand-written FastAPI routers, included under `/api`.
        readiness_checks: async checks run by `/api/readyz` (name -> check, or a list).
        settings: server settings (default: read from `REST_*`).
        auth: authentication settings (default: read from `AUTH_*`).
        verifier: a ready-made token verifier (default: built from `auth`).
        lifespan: the service's own start-up/shutdown, run inside the app's.

    Raises:
        ConfigurationError: authentication is on but no keys, issuer or audience are configured.
    """
    settings = settings or RestSettings()
    auth = auth or AuthSettings()
    if verifier is None and auth.enabled:
        verifier = TokenVerifier.from_settings(auth)
    if not auth.enabled:
        log.warning("AUTH_MODE=off: service %s serves requests WITHOUT checking any token", service)
    readiness = Readiness(readiness_checks, timeout=settings.readiness_timeout)
    metrics = RouteMetrics()
    open_paths = {HEALTH_PATH, READINESS_PATH, METRICS_PATH}
    if settings.docs:
        open_paths |= {f"{BASE_PATH}/openapi.json", f"{BASE_PATH}/docs"}

    app = FastAPI(
        title=service,
        openapi_url=f"{BASE_PATH}/openapi.json" if settings.docs else None,
        docs_url=f"{BASE_PATH}/docs" if settings.docs else None,
        redoc_url=None,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=_lifespan(service, verifier, lifespan),
        middleware=[
            Middleware(RequestContextMiddleware, metrics=metrics),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(TenantGuardMiddleware, verifier=verifier, open_paths=open_paths),
            Middleware(ErrorMiddleware),
        ],
    )
    app.state.service = service
    app.state.readiness = readiness
    app.state.metrics = metrics
    app.state.verifier = verifier
    app.state.rest_settings = settings
    app.add_route(HEALTH_PATH, health_endpoint, methods=["GET"], include_in_schema=False)
    app.add_route(READINESS_PATH, readiness.endpoint, methods=["GET"], include_in_schema=False)
    app.add_route(METRICS_PATH, metrics.endpoint, methods=["GET"], include_in_schema=False)
    build_context = context or _no_context
    for endpoint in endpoints:
        app.router.routes.append(endpoint_route(endpoint, build_context, prefix=BASE_PATH))
    for router in routers:
        app.include_router(router, prefix=BASE_PATH)
    return app


def readiness_of(app: FastAPI) -> Readiness:
    """The readiness state of an app built by `create_app`."""
    readiness: Readiness = app.state.readiness
    return readiness


def _no_context(request: object) -> None:
    return None


def _lifespan(service: str, verifier: TokenVerifier | None, inner: Lifespan | None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("service %s starting", service)
        try:
            if inner is None:
                yield
            else:
                async with inner(app):
                    yield
        finally:
            if verifier is not None:
                await verifier.aclose()
            log.info("service %s stopped", service)

    return lifespan
