"""Prometheus metrics of one app: a per-route latency histogram and an in-flight gauge.

Each app gets its own `CollectorRegistry`, so several apps in one process (tests,
the whole ecosystem run locally) never collide. `/metrics` also serves the process-wide
default registry, where the runtime's own metrics live (outbox backlog and leadership,
saga steps and outcomes, labelled by service) next to the process and GC collectors.
Routes are labelled by their template (`/api/parties/{id}`), never by the concrete path,
to bound cardinality.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.types import Scope

UNMATCHED_ROUTE = "<unmatched>"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RouteMetrics:
    """Request metrics recorded by the server middleware."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "atlas_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
            buckets=_BUCKETS,
        )
        self.in_flight = Gauge(
            "atlas_http_requests_in_flight", "HTTP requests being served.", registry=self.registry
        )

        self._templates: dict[int, str] = {}

    def route_template(self, scope: Scope) -> str:
        """The template of the route that served `scope` (after the app ran)."""
        route = scope.get("route")
        if route is not None and isinstance(getattr(route, "path", None), str):
            return str(route.path)
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED_ROUTE
        template = self._templates.get(id(endpoint))
        if template is None:
            # Plain Starlette routes do not record themselves in the scope; find the route by endpoint.
            router = getattr(scope.get("app"), "router", None)
            self._templates.update(_endpoint_templates(getattr(router, "routes", ())))
            template = self._templates.setdefault(id(endpoint), UNMATCHED_ROUTE)
        return template

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.latency.labels(route, method, str(status)).observe(seconds)

    async def endpoint(self, request: StarletteRequest) -> Response:
        """`GET /metrics` in the Prometheus text format: this app's metrics, then the process's."""
        text = generate_latest(self.registry) + generate_latest(REGISTRY)
        return Response(text, media_type=CONTENT_TYPE_LATEST)


def _endpoint_templates(routes: Iterable[Any], prefix: str = "") -> dict[int, str]:
    found: dict[int, str] = {}
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        endpoint = getattr(route, "endpoint", None)
        if endpoint is not None:
            found[id(endpoint)] = path
        found.update(_endpoint_templates(getattr(route, "routes", ()), path))
    return found
