"""Errors of outbound service calls, in one tree.

    ServiceCallError (AtlasError)          a call to another service failed
    ├── ServiceUnreachable (ConnectionError)   no connection could be made
    ├── ServiceTimeout (TimeoutError)          an attempt or the whole call ran out of time
    ├── ResponseDecodeError (ValueError)       the answer is not the expected JSON:API document
    └── ServiceResponseError                   the service answered with an error status
        ├── ServiceBadRequest 400
        ├── ServiceUnauthorized 401
        ├── ServiceForbidden 403
        ├── ServiceNotFound 404
        ├── ServiceConflict 409
        ├── ServiceUnprocessable 422
        ├── ServiceUnavailable 503
        └── ServiceServerError (other 5xx)

A `ServiceResponseError` carries the JSON:API error objects the service sent, so a
caller can see exactly which field or header was refused. A decoding failure is never
reported as "not found".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from atlas_runtime.errors import AtlasError


class ServiceCallError(AtlasError):
    """A call to another service failed."""

    def __init__(self, message: str, *, service: str, method: str, url: str) -> None:
        self.service = service
        self.method = method
        self.url = url
        super().__init__(f"{method} {url} ({service}): {message}")


class ServiceUnreachable(ServiceCallError, ConnectionError):
    """No connection could be made to the service."""


class ServiceTimeout(ServiceCallError, TimeoutError):
    """An attempt, or the whole call with its retries, ran out of time."""


class ResponseDecodeError(ServiceCallError, ValueError):
    """The response is not the JSON:API document the caller expected."""


class ServiceResponseError(ServiceCallError):
    """The service answered with an error status.

    Attributes:
        status: the HTTP status.
        errors: the JSON:API error objects of the response (empty when it had none).
        headers: the response headers.
    """

    def __init__(
        self,
        *,
        service: str,
        method: str,
        url: str,
        status: int,
        errors: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.errors = [dict(error) for error in errors]
        self.headers = dict(headers or {})
        details = "; ".join(str(e.get("detail") or e.get("title") or "") for e in self.errors) or "no detail"
        super().__init__(f"status {status}: {details}", service=service, method=method, url=url)


class ServiceBadRequest(ServiceResponseError):
    """400"""


class ServiceUnauthorized(ServiceResponseError):
    """401"""


class ServiceForbidden(ServiceResponseError):
    """403"""


class ServiceNotFound(ServiceResponseError):
    """404"""


class ServiceConflict(ServiceResponseError):
    """409"""


class ServiceUnprocessable(ServiceResponseError):
    """422"""


class ServiceUnavailable(ServiceResponseError):
    """503 (after every allowed retry)."""


class ServiceServerError(ServiceResponseError):
    """Any other 5xx."""


_BY_STATUS: dict[int, type[ServiceResponseError]] = {
    400: ServiceBadRequest,
    401: ServiceUnauthorized,
    403: ServiceForbidden,
    404: ServiceNotFound,
    409: ServiceConflict,
    422: ServiceUnprocessable,
    503: ServiceUnavailable,
}


def error_class_for(status: int) -> type[ServiceResponseError]:
    """The exception class of an error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServiceServerError if status >= 500 else ServiceResponseError
