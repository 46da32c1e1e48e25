"""REST endpoints under `endpoints:`: path -> method -> operation.

An operation is one of: `get: <registry>`, `list: <registry>` (with `filters`),
`remove: <registry>`, or `handler: module:function` with `body`, `returns`, `status`.
Every operation may require token `scopes`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Discriminator, Field, Tag
from pydantic_core import PydanticCustomError

from ._base import SpecModel
from .names import FieldName, HandlerRef, IndexName, RegistryName
from .types import TypeExpr

PATH_PATTERN = (
    r"^/([A-Za-z0-9_.~-]+|\{[A-Za-z_][A-Za-z0-9_]*\})(/([A-Za-z0-9_.~-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))*$"
)
_PATH = re.compile(PATH_PATTERN)
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
HttpMethod = Literal["get", "post", "put", "patch", "delete"]
OPERATION_KEYS = ("get", "list", "remove", "handler")


def path_parameters(path: str) -> list[str]:
    """The `{name}` parameters of a path, in order."""
    return _PARAM.findall(path)


def _check_path(value: str) -> str:
    if not _PATH.match(value):
        raise PydanticCustomError(
            "bad_path",
            "`{value}` is not an endpoint path",
            {
                "value": value,
                "expected": "segments after a leading /, parameters as {name}, like /parties/{id}",
            },
        )
    return value


EndpointPath = Annotated[str, AfterValidator(_check_path), Field(json_schema_extra={"pattern": PATH_PATTERN})]


class _Operation(SpecModel):
    scopes: list[str] = Field(default_factory=list)
    params: dict[FieldName, TypeExpr] = Field(default_factory=dict)
    description: str | None = None


class GetOperation(_Operation):
    """Read one value of a registry by the key in the path (404 when absent)."""

    get: RegistryName


class ListOperation(_Operation):
    """List a registry, paged; `filters` maps a query name (`filter[name]`) to an index."""

    list: RegistryName
    filters: dict[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.]*$")], IndexName] = Field(
        default_factory=dict
    )


class RemoveOperation(_Operation):
    """Remove one value of a registry by the key in the path (404 when absent)."""

    remove: RegistryName


class HandlerOperation(_Operation):
    """Call a hand-written handler.

    Attributes:
        handler: `module:function`, `async def f(ctx, request) -> result`.
        body: the request body model (validated; 422 before the handler runs).
        returns: the result type (a model, or `list[Model]` for a paged collection).
        status: the status of a `None` result (default 204).
        resource: the JSON:API `type` of returned resources (default: the path's last
            literal segment).
    """

    handler: HandlerRef
    body: TypeExpr | None = None
    returns: TypeExpr | None = None
    status: int | None = Field(default=None, ge=200, le=299)
    resource: str | None = None


def _operation_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        present = [key for key in OPERATION_KEYS if key in value]
        if len(present) == 1:
            return f"{present[0]}-operation"
        return None
    if isinstance(value, _Operation):
        return next(f"{key}-operation" for key in OPERATION_KEYS if hasattr(value, key))
    return None


Operation = Annotated[
    Annotated[GetOperation, Tag("get-operation")]
    | Annotated[ListOperation, Tag("list-operation")]
    | Annotated[RemoveOperation, Tag("remove-operation")]
    | Annotated[HandlerOperation, Tag("handler-operation")],
    Discriminator(
        _operation_kind,
        custom_error_type="bad_operation",
        custom_error_message="an operation needs exactly one of `get`, `list`, `remove` or `handler`",
    ),
]
"""One of the four operation shapes, chosen by which key is present."""

Endpoints = dict[EndpointPath, dict[HttpMethod, Operation]]
