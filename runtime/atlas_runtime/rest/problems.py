"""Every error the server answers, as a JSON:API error document.

`HTTPProblem` subclasses answer with their own status; `BackendUnavailable` is 503
with `Retry-After`; FastAPI's validation errors are 422 with pointers; Starlette's
404/405 keep their status; a handler that raises `NotImplementedError` (a scaffolded
stub) is 501; anything else is a 500 that reveals nothing internal (the details go to
the log, with the request id).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response

from atlas_runtime.errors import BackendUnavailable, BadRequest, HTTPProblem, InvalidTenantError
from atlas_runtime.rest.jsonapi import MEDIA_TYPE, error_document, json_pointer
from atlas_runtime.rest.tracing import current_request_id

log = logging.getLogger("atlas_runtime.rest")

RETRY_AFTER_SECONDS = 1


class JsonApiResponse(JSONResponse):
    """A JSON response with the JSON:API media type."""

    media_type = MEDIA_TYPE


class InvalidHeader(BadRequest):
    """A required request header is missing or malformed (`source.header` names it)."""

    def __init__(self, header: str, detail: str) -> None:
        self.header = header
        super().__init__(detail)

    def to_error_object(self) -> dict[str, Any]:
        error = super().to_error_object()
        error["source"] = {"header": self.header}
        return error


class ServiceUnavailable(HTTPProblem):
    status = 503
    title = "Service Unavailable"


class InternalServerError(HTTPProblem):
    status = 500
    title = "Internal Server Error"


class NotImplementedProblem(HTTPProblem):
    status = 501
    title = "Not Implemented"


def problem_response(problem: HTTPProblem) -> JsonApiResponse:
    """The JSON:API error response of `problem` (its status and headers)."""
    return JsonApiResponse(error_document(problem), status_code=problem.status, headers=problem.headers)


def tenant_header_problem(error: InvalidTenantError) -> InvalidHeader:
    return InvalidHeader(error.header, str(error))


def response_for(error: BaseException) -> JsonApiResponse:
    """The response answering `error`; unexpected errors are logged and become a bare 500."""
    if isinstance(error, HTTPProblem):
        return problem_response(error)
    if isinstance(error, InvalidTenantError):
        return problem_response(tenant_header_problem(error))
    if isinstance(error, BackendUnavailable):
        log.warning("answering 503, a backend is unavailable: %s", error)
        return problem_response(
            ServiceUnavailable(
                "a backing service is temporarily unavailable; retry later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        )
    if isinstance(error, NotImplementedError):
        log.warning("answering 501: %s is not implemented yet", error)
        return problem_response(NotImplementedProblem("this operation's handler is not implemented yet"))
    log.error("unhandled error (request id %s)", current_request_id(), exc_info=error)
    detail = f"the request failed; quote request id {current_request_id()} when reporting it"
    return problem_response(InternalServerError(detail))


async def _handle_any(request: StarletteRequest, error: Exception) -> Response:
    return response_for(error)


async def _handle_http_exception(request: StarletteRequest, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    status = HTTPStatus(error.status_code)
    problem = {"status": str(status.value), "title": status.phrase, "detail": str(error.detail)}
    return JsonApiResponse({"errors": [problem]}, status_code=status.value, headers=error.headers)


async def _handle_validation(request: StarletteRequest, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = [_validation_error_object(item) for item in error.errors()]
    return JsonApiResponse({"errors": errors}, status_code=422)


def _validation_error_object(item: dict[str, Any]) -> dict[str, Any]:
    where, *location = item.get("loc", ("body",))
    source: dict[str, str]
    if where == "body":
        source = {"pointer": json_pointer(*location)}
    elif where == "header":
        source = {"header": str(location[0]) if location else ""}
    else:
        source = {"parameter": str(location[0]) if location else str(where)}
    field = ".".join(str(part) for part in location) or str(where)
    return {
        "status": "422",
        "title": "Unprocessable Entity",
        "detail": f"{field}: {item.get('msg', 'is invalid')}",
        "source": source,
    }


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPProblem: _handle_any,
    InvalidTenantError: _handle_any,
    BackendUnavailable: _handle_any,
    StarletteHTTPException: _handle_http_exception,
    RequestValidationError: _handle_validation,
}
