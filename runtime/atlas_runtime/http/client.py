"""The outbound REST client: one `ServiceClient` per called service per process.

Every call is bounded twice: each attempt by the per-attempt timeout (10 s,
`HTTP_CLIENT_TIMEOUT`, or per call), and the whole call, retries and body read
included, by an absolute deadline (30 s), enforced with `asyncio.timeout` because
httpx's own timeouts are per network read, not per request.

Retries use the runtime's REST policy (full jitter, 200 ms -> 5 s) on connect
failures (any method: the request never left), and on timeouts, dropped
connections and 502/503/504 (and 429 with `Retry-After`) only for idempotent
methods or requests that carry an `Idempotency-Key`. `Retry-After` is honoured as
given; a wait that would pass the deadline ends the call instead. A 401 makes the
client fetch a fresh service token and try once more.

Tenant, trace (`traceparent`), request id and the service token travel with every
call. Cancelling the caller cancels the request and closes its connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from atlas_runtime.auth.service_tokens import TokenSource
from atlas_runtime.http import _httpx, _wire
from atlas_runtime.http.errors import (
    ResponseDecodeError,
    ServiceCallError,
    ServiceResponseError,
    ServiceTimeout,
    ServiceUnreachable,
    error_class_for,
)
from atlas_runtime.http.settings import ClientSettings, service_base_url
from atlas_runtime.rest.jsonapi import MEDIA_TYPE, decode_resource, resource_object
from atlas_runtime.rest.tracing import REQUEST_ID_HEADER, current_request_id, current_trace, start_trace
from atlas_runtime.retry import REST, RetryPolicy
from atlas_runtime.tenant import current_tenant_or_none

M = TypeVar("M", bound=BaseModel)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENCY_KEY = "Idempotency-Key"
_NOT_SENT = (_httpx.ConnectError, _httpx.ConnectTimeout, _httpx.PoolTimeout)


class _Retry(Exception):
    """An attempt failed in a way that may be retried after `delay` (None: the policy's backoff)."""

    def __init__(self, error: ServiceCallError, *, delay: float | None = None) -> None:
        self.error = error
        self.delay = delay


class ServiceClient:
    """Calls one other service.

    Args:
        service: the called service's name; its base URL comes from `<NAME>_SERVICE_URL`,
            else `BASE_SERVICE_URL`, unless `base_url` is given.
        base_url: an explicit base URL (e.g. `http://atlas-characters:8080/api/`).
        settings: timeouts and pool (default: from `HTTP_CLIENT_*`).
        token_source: supplies the service token (None: no `Authorization` header).
        retry: the retry policy (default: `atlas_runtime.retry.REST`).
        transport: an httpx transport (tests).
    """

    def __init__(
        self,
        service: str,
        *,
        base_url: str | None = None,
        settings: ClientSettings | None = None,
        token_source: TokenSource | None = None,
        retry: RetryPolicy = REST,
        transport: _httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.service = service
        self.settings = settings or ClientSettings()
        self.base_url = base_url if base_url is not None else service_base_url(service)
        if not self.base_url.endswith("/"):
            self.base_url += "/"
        self.token_source = token_source
        self.retry = retry
        self._client = _httpx.AsyncClient(
            base_url=self.base_url,
            timeout=_httpx.Timeout(self.settings.timeout),
            limits=_httpx.Limits(
                max_connections=self.settings.max_connections,
                max_keepalive_connections=self.settings.max_keepalive,
                keepalive_expiry=self.settings.keepalive_expiry,
            ),
            transport=transport,
            headers={"Accept": MEDIA_TYPE},
        )

    async def __aenter__(self) -> ServiceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the core --------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> _httpx.Response:
        """Send one request with retries; a 2xx response (body read) or a typed error.

        Args:
            method: the HTTP method.
            path: relative to the base URL (`parties/1` or `/parties/1`), or an absolute URL.
            params: query parameters.
            json: a JSON body (sent as `application/vnd.api+json`).
            headers: extra headers.
            idempotency_key: sent as `Idempotency-Key`; makes a POST/PATCH retryable.
            timeout: per-attempt timeout, seconds (default `HTTP_CLIENT_TIMEOUT`).
            deadline: cap on the whole call, seconds (default `HTTP_CLIENT_DEADLINE`).
            retry: the retry policy of this call.

        Raises:
            ServiceResponseError: an error status (a subclass per status).
            ServiceTimeout: an attempt timed out and no retry was allowed, or the deadline passed.
            ServiceUnreachable: no connection, or the connection dropped.
        """
        method = method.upper()
        sent_headers = dict(headers or {})
        if idempotency_key is not None:
            sent_headers[IDEMPOTENCY_KEY] = idempotency_key
        may_repeat = method in IDEMPOTENT_METHODS or any(k.lower() == "idempotency-key" for k in sent_headers)
        url = self._url(path)
        deadline = deadline or self.settings.deadline
        cap = asyncio.timeout(deadline)
        try:
            async with cap:
                return await self._send_with_retries(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=sent_headers,
                    may_repeat=may_repeat,
                    per_attempt=timeout or self.settings.timeout,
                    ends=time.monotonic() + deadline,
                    policy=retry or self.retry,
                )
        except TimeoutError:
            if not cap.expired():
                raise  # an attempt's own ServiceTimeout (itself a TimeoutError), not the deadline
            raise ServiceTimeout(
                f"no answer within the deadline of {deadline}s", service=self.service, method=method, url=url
            ) from None

    async def _send_with_retries(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: dict[str, str],
        may_repeat: bool,
        per_attempt: float,
        ends: float,
        policy: RetryPolicy,
    ) -> _httpx.Response:
        attempt = 0
        refreshed_token = False
        while True:
            attempt += 1
            try:
                response = await self._attempt(method, url, params, json, headers, per_attempt, may_repeat)
            except _Retry as retry:
                delay = retry.delay if retry.delay is not None else policy.backoff(attempt)
                if attempt >= policy.attempts or time.monotonic() + delay >= ends:
                    raise retry.error from None
                await asyncio.sleep(delay)
                continue
            if response.status_code == 401 and self.token_source is not None and not refreshed_token:
                # The token may have been revoked or rotated: fetch a fresh one and try once more.
                self.token_source.invalidate()
                refreshed_token = True
                attempt -= 1
                continue
            if response.is_success:
                return response
            raise self._response_error(method, url, response)

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json: Any,
        headers: dict[str, str],
        per_attempt: float,
        may_repeat: bool,
    ) -> _httpx.Response:
        where = {"service": self.service, "method": method, "url": url}
        content = None if json is None else _wire.encode_json(json)
        all_headers = {**await self._context_headers(), **headers}
        if content is not None:
            all_headers.setdefault("Content-Type", MEDIA_TYPE)
        try:
            async with asyncio.timeout(per_attempt):
                response = await self._client.request(
                    method, url, params=params, content=content, headers=all_headers, timeout=per_attempt
                )
        except _NOT_SENT as error:
            # The request never reached the service, so even a write may be sent again.
            raise _Retry(ServiceUnreachable(f"cannot connect: {error!r}", **where)) from error
        except (TimeoutError, _httpx.TimeoutException) as error:
            failure: ServiceCallError = ServiceTimeout(
                f"no answer within the attempt timeout of {per_attempt}s", **where
            )
            raise (_Retry(failure) if may_repeat else failure) from error
        except _httpx.TransportError as error:
            failure = ServiceUnreachable(f"the connection failed: {error!r}", **where)
            raise (_Retry(failure) if may_repeat else failure) from error
        retry_after = _wire.retry_after(response)
        transient = response.status_code in RETRY_STATUSES or (
            response.status_code == 429 and retry_after is not None
        )
        if transient and may_repeat:
            raise _Retry(self._response_error(method, url, response), delay=retry_after)
        return response

    async def _context_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        tenant = current_tenant_or_none()
        if tenant is not None:
            headers.update(tenant.http_headers())
        headers.update((current_trace() or start_trace()).outbound_headers())
        request_id = current_request_id()
        if request_id is not None:
            headers[REQUEST_ID_HEADER] = request_id
        if self.token_source is not None:
            headers["Authorization"] = f"Bearer {await self.token_source.token()}"
        return headers

    def _url(self, path: str) -> str:
        if "://" in path:
            return path
        return self.base_url + path.lstrip("/")

    def _response_error(self, method: str, url: str, response: _httpx.Response) -> ServiceResponseError:
        errors: list[Any] = []
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("errors"), list):
                errors = [e for e in body["errors"] if isinstance(e, dict)]
        except ValueError:
            pass
        return error_class_for(response.status_code)(
            service=self.service,
            method=method,
            url=url,
            status=response.status_code,
            errors=errors,
            headers=dict(response.headers),
        )

    # -- JSON:API conveniences ---------------------------------------------------

    async def get_one(self, path: str, model: type[M], **options: Any) -> M:
        """GET one resource and decode it into `model`."""
        response = await self.request("GET", path, **options)
        return self._decode_one(response, model)

    async def get_many(self, path: str, model: type[M], **options: Any) -> list[M]:
        """GET one collection response (a single page) and decode its items."""
        response = await self.request("GET", path, **options)
        return self._decode_many(response, model)

    async def fetch_all(
        self,
        path: str,
        model: type[M],
        *,
        page_size: int = 250,
        params: Mapping[str, str | int] | None = None,
        **options: Any,
    ) -> AsyncIterator[M]:
        """Every item of a paged collection, following `links.next` page by page."""
        query: dict[str, str | int] | None = {**(params or {}), "page[number]": 1, "page[size]": page_size}
        url: str | None = self._url(path)
        seen: set[str] = set()
        while url is not None:
            response = await self.request("GET", url, params=query, **options)
            for item in self._decode_many(response, model):
                yield item
            # The next link carries the whole query (filters included); httpx would drop it for params={}.
            url, query = self._next_link(response), None
            if url is not None and url in seen:
                raise ResponseDecodeError(
                    f"links.next loops back to {url}", service=self.service, method="GET", url=url
                )
            seen.add(url or "")

    async def create(
        self,
        path: str,
        resource_type: str,
        body: BaseModel | Mapping[str, Any],
        model: type[M] | None = None,
        *,
        idempotency_key: str | None = None,
        **options: Any,
    ) -> M | None:
        """POST a JSON:API resource; decode the answer into `model` when given and present."""
        document = {"data": resource_object(resource_type, body)}
        response = await self.request("POST", path, json=document, idempotency_key=idempotency_key, **options)
        return self._decode_one(response, model) if model is not None and response.content else None

    async def replace(
        self,
        path: str,
        resource_type: str,
        body: BaseModel | Mapping[str, Any],
        model: type[M] | None = None,
        **options: Any,
    ) -> M | None:
        """PUT a JSON:API resource (idempotent, so retried on transient failures)."""
        document = {"data": resource_object(resource_type, body)}
        response = await self.request("PUT", path, json=document, **options)
        return self._decode_one(response, model) if model is not None and response.content else None

    async def delete(self, path: str, **options: Any) -> None:
        """DELETE a resource."""
        await self.request("DELETE", path, **options)

    def _decode_one(self, response: _httpx.Response, model: type[M]) -> M:
        data = self._document(response).get("data")
        if not isinstance(data, dict):
            raise self._decode_error(response, "expected one resource in data")
        try:
            return decode_resource(data, model)
        except ValidationError as error:
            raise self._decode_error(
                response, f"the resource does not fit {model.__name__}: {error}"
            ) from error

    def _decode_many(self, response: _httpx.Response, model: type[M]) -> list[M]:
        data = self._document(response).get("data")
        if not isinstance(data, list):
            raise self._decode_error(response, "expected a list of resources in data")
        try:
            return [decode_resource(item, model) for item in data]
        except (ValidationError, AttributeError) as error:
            raise self._decode_error(
                response, f"a resource does not fit {model.__name__}: {error}"
            ) from error

    def _document(self, response: _httpx.Response) -> dict[str, Any]:
        try:
            document = response.json()
        except ValueError as error:
            raise self._decode_error(response, "the body is not JSON") from error
        if not isinstance(document, dict):
            raise self._decode_error(response, "the body is not a JSON:API document")
        return document

    def _next_link(self, response: _httpx.Response) -> str | None:
        links = self._document(response).get("links") or {}
        target = links.get("next") if isinstance(links, dict) else None
        return str(response.url.join(target)) if isinstance(target, str) and target else None

    def _decode_error(self, response: _httpx.Response, detail: str) -> ResponseDecodeError:
        return ResponseDecodeError(
            detail, service=self.service, method=response.request.method, url=str(response.url)
        )
