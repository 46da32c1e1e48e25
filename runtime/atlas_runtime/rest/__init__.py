"""The REST side of a service: app factory, JSON:API, paging, tenant binding, health, shutdown."""

from __future__ import annotations

from atlas_runtime.rest.app import (
    BASE_PATH,
    HEALTH_PATH,
    METRICS_PATH,
    READINESS_PATH,
    create_app,
    readiness_of,
)
from atlas_runtime.rest.handlers import (
    ContextFactory,
    Endpoint,
    Handler,
    Request,
    endpoint_route,
    needs_scopes,
    result_response,
)
from atlas_runtime.rest.health import Readiness, ReadinessCheck
from atlas_runtime.rest.jsonapi import (
    MEDIA_TYPE,
    InvalidBody,
    collection_document,
    decode_resource,
    error_document,
    parse_resource_body,
    resource_document,
    resource_object,
)
from atlas_runtime.rest.metrics import RouteMetrics
from atlas_runtime.rest.pagination import Page, paginate, paginate_async
from atlas_runtime.rest.problems import InvalidHeader, JsonApiResponse, ServiceUnavailable, problem_response
from atlas_runtime.rest.query import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    PageParams,
    Query,
    filter_type,
    parse_query,
)
from atlas_runtime.rest.server import DrainingServer, run, serve, server_for
from atlas_runtime.rest.settings import RestSettings
from atlas_runtime.rest.tracing import (
    REQUEST_ID_HEADER,
    TRACEPARENT_HEADER,
    RequestContextLogFilter,
    TraceContext,
    current_request_id,
    current_trace,
)

__all__ = [
    "BASE_PATH",
    "DEFAULT_PAGE_SIZE",
    "HEALTH_PATH",
    "MAX_PAGE_SIZE",
    "MEDIA_TYPE",
    "METRICS_PATH",
    "READINESS_PATH",
    "REQUEST_ID_HEADER",
    "TRACEPARENT_HEADER",
    "ContextFactory",
    "DrainingServer",
    "Endpoint",
    "Handler",
    "InvalidBody",
    "InvalidHeader",
    "JsonApiResponse",
    "Page",
    "PageParams",
    "Query",
    "Readiness",
    "ReadinessCheck",
    "Request",
    "RequestContextLogFilter",
    "RestSettings",
    "RouteMetrics",
    "ServiceUnavailable",
    "TraceContext",
    "collection_document",
    "create_app",
    "current_request_id",
    "current_trace",
    "decode_resource",
    "endpoint_route",
    "error_document",
    "filter_type",
    "needs_scopes",
    "paginate",
    "paginate_async",
    "parse_query",
    "parse_resource_body",
    "problem_response",
    "readiness_of",
    "resource_document",
    "resource_object",
    "result_response",
    "run",
    "serve",
    "server_for",
]
