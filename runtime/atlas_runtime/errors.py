"""Errors of the runtime, in one tree.

    AtlasError
    ├── ConfigurationError (ValueError)   a setting is missing or invalid; raised at start-up
    ├── NoTenantError (LookupError)       a tenant-scoped operation ran without a tenant
    ├── InvalidTenantError (ValueError)   tenant headers missing or malformed
    ├── BackendUnavailable (ConnectionError)  Redis / Kafka / PostgreSQL unreachable (transient)
    ├── LockTimeout (TimeoutError)        a lock was not acquired within its wait
    └── HTTPProblem                       an error a REST handler answers with (JSON:API)
        ├── BadRequest 400
        ├── Unauthorized 401
        ├── Forbidden 403
        ├── NotFound 404
        ├── Conflict 409 ── UniqueIndexConflict
        ├── PayloadTooLarge 413
        └── UnprocessableEntity 422

REST handlers signal failures by raising `NotFound`, `Conflict`, `BadRequest` or
`Forbidden`; the server turns any `HTTPProblem` into a JSON:API error document.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AtlasError(Exception):
    """Root of every error the runtime raises on purpose."""


class ConfigurationError(AtlasError, ValueError):
    """A setting is missing or invalid. Raised at start-up, naming the setting."""


class NoTenantError(AtlasError, LookupError):
    """A tenant-scoped operation ran with no tenant in context (fails closed)."""

    def __init__(self, operation: str = "this operation") -> None:
        super().__init__(
            f"{operation} needs a tenant, but none is set in the current context; "
            "run it inside a request, a message handler, a task, or `as_tenant(...)`"
        )


class InvalidTenantError(AtlasError, ValueError):
    """A tenant header is missing or malformed."""

    def __init__(self, header: str, value: str | None, expected: str) -> None:
        self.header = header
        self.value = value
        what = "is missing" if value is None else f"is {value!r}"
        super().__init__(f"tenant header {header} {what}; expected {expected}")


class BackendUnavailable(AtlasError, ConnectionError):
    """A backing server (Redis, Kafka, PostgreSQL) cannot be reached; transient."""

    def __init__(self, backend: str, address: str, cause: BaseException | None = None) -> None:
        self.backend = backend
        self.address = address
        detail = f": {cause}" if cause else ""
        super().__init__(f"{backend} at {address} is unreachable{detail}")


class LockTimeout(AtlasError, TimeoutError):
    """A distributed lock was not acquired within its wait."""


class HTTPProblem(AtlasError):
    """An error answered as a JSON:API error object with `status`."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail or self.title
        self.pointer = pointer
        self.parameter = parameter
        self.headers = headers or {}
        super().__init__(self.detail)

    def to_error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"status": str(self.status), "title": self.title, "detail": self.detail}
        if self.pointer is not None:
            error["source"] = {"pointer": self.pointer}
        elif self.parameter is not None:
            error["source"] = {"parameter": self.parameter}
        return error


class BadRequest(HTTPProblem):
    status = 400
    title = "Bad Request"


class Unauthorized(HTTPProblem):
    status = 401
    title = "Unauthorized"


class Forbidden(HTTPProblem):
    status = 403
    title = "Forbidden"


class NotFound(HTTPProblem):
    status = 404
    title = "Not Found"


class Conflict(HTTPProblem):
    status = 409
    title = "Conflict"


class UniqueIndexConflict(Conflict):
    """A unique index already maps the value to another key."""

    def __init__(self, index: str, value: object, owner: str) -> None:
        self.index = index
        self.value = value
        self.owner = owner
        super().__init__(f"unique index {index!r} already maps {value!r} to key {owner!r}")


class PayloadTooLarge(HTTPProblem):
    status = 413
    title = "Payload Too Large"


class UnprocessableEntity(HTTPProblem):
    status = 422
    title = "Unprocessable Entity"
