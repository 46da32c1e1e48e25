"""The server's ASGI middleware, outermost first.

1. `RequestContextMiddleware`: request id and trace context (context variables and
   the `X-Request-ID` response header), per-route latency metrics, the access log.
2. `BodyLimitMiddleware`: 413 for bodies over the limit, counted while streaming
   (a missing or lying `Content-Length` does not get past it).
3. `TenantGuardMiddleware`: on every route but the open ones (health, readiness,
   metrics): bearer token (401), tenant headers (400), token bound to the tenant
   (403); then runs the request as that tenant and principal.
4. `ErrorMiddleware`: whatever escapes the app becomes a JSON:API error response.

All are plain ASGI classes (no `BaseHTTPMiddleware`), so context variables set here
are seen by handlers and the per-request cost stays small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atlas_runtime.auth.principal import Principal, as_principal, authorize_tenant
from atlas_runtime.auth.verifier import TokenVerifier, missing_token
from atlas_runtime.errors import InvalidTenantError, PayloadTooLarge
from atlas_runtime.rest.metrics import RouteMetrics
from atlas_runtime.rest.problems import problem_response, response_for, tenant_header_problem
from atlas_runtime.rest.tracing import (
    REQUEST_ID_HEADER,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    accept_request_id,
    continue_trace,
    request_scope,
)
from atlas_runtime.tenant import HEADER_NAMES, Tenant, as_tenant

access_log = logging.getLogger("atlas_runtime.rest.access")

_REQUEST_ID = REQUEST_ID_HEADER.lower()
_REQUEST_ID_BYTES = _REQUEST_ID.encode()
_TENANT_HEADERS = tuple(name.lower() for name in HEADER_NAMES)
_HEADERS_KEY = "atlas.headers"


def request_headers(scope: Scope) -> dict[str, str]:
    """The request headers as one dict (names lower-case), built once per request and kept in the scope."""
    headers: dict[str, str] | None = scope.get(_HEADERS_KEY)
    if headers is None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        scope[_HEADERS_KEY] = headers
    return headers


class RequestContextMiddleware:
    """Request id, trace context and latency metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, *, metrics: RouteMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope)
        request_id = accept_request_id(headers.get(_REQUEST_ID))
        trace = continue_trace(headers.get(TRACEPARENT_HEADER), headers.get(TRACESTATE_HEADER))
        status = 500
        id_header = (_REQUEST_ID_BYTES, request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            with request_scope(request_id, trace):
                await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            route = self.metrics.route_template(scope)
            self.metrics.observe(route, scope["method"], status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    scope["path"],
                    status,
                    seconds * 1000,
                    extra={"request_id": request_id, "trace_id": trace.trace_id, "route": route},
                )


class BodyLimitMiddleware:
    """Answers 413 when a request body grows past `max_bytes`."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = request_headers(scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Tell the app the client went away; the 413 is sent below instead of its answer.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = PayloadTooLarge(f"the request body is larger than the limit of {self.max_bytes} bytes")
        response = problem_response(problem)
        await response(scope, receive, send)


class TenantGuardMiddleware:
    """Authenticates the caller and binds the request to its tenant.

    Args:
        app: the wrapped app.
        verifier: checks bearer tokens; None serves without tokens (`AUTH_MODE=off`).
        open_paths: exact paths served without token or tenant (health, readiness, metrics).
    """

    def __init__(self, app: ASGIApp, *, verifier: TokenVerifier | None, open_paths: Collection[str]) -> None:
        self.app = app
        self.verifier = verifier
        self.open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope)
        try:
            principal = await self._authenticate(headers)
            tenant = Tenant.from_http_headers(
                {name: headers[name] for name in _TENANT_HEADERS if name in headers}
            )
            if principal is not None:
                authorize_tenant(principal, tenant)
        except InvalidTenantError as error:
            await problem_response(tenant_header_problem(error))(scope, receive, send)
            return
        except Exception as error:
            await response_for(error)(scope, receive, send)
            return
        with as_tenant(tenant), as_principal(principal):
            await self.app(scope, receive, send)

    async def _authenticate(self, headers: dict[str, str]) -> Principal | None:
        if self.verifier is None:
            return None
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise missing_token()
        return await self.verifier.verify(token.strip())


class ErrorMiddleware:
    """Turns any exception that escapes the app into a JSON:API error response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            return  # the client is gone (or the body limit cut it off): nobody to answer
        except Exception as error:
            if started:
                raise  # too late for an error document; the server closes the connection
            await response_for(error)(scope, receive, send)
