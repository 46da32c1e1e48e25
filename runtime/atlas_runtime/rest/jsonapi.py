"""JSON:API documents: resources, collections, errors, and request-body parsing.

A resource is `{"type", "id", "attributes"}`; the `id` field of a value becomes the
resource id (a string on the wire) and every other field an attribute. Bodies are
parsed from `{"data": {"type", "attributes"}}` and validated into a pydantic model;
each invalid field is reported with its JSON pointer (`/data/attributes/level`).
The same module decodes documents on the client side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from atlas_runtime.errors import BadRequest, Conflict, HTTPProblem, UnprocessableEntity

MEDIA_TYPE = "application/vnd.api+json"

M = TypeVar("M", bound=BaseModel)
Document = dict[str, Any]


# -- encoding -------------------------------------------------------------------


def to_attributes(value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """The value as a JSON-ready dict (aliases applied, so `wire_case` models speak their case)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    jsonable: dict[str, Any] = to_jsonable_python(dict(value))  # uuids, datetimes, nested models
    return jsonable


def resource_object(resource_type: str, value: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """One resource object; its `id` is the value's `id` field, when it has one."""
    attributes = to_attributes(value)
    resource: dict[str, Any] = {"type": resource_type}
    if "id" in attributes:
        resource["id"] = str(attributes.pop("id"))
    resource["attributes"] = attributes
    return resource


def resource_document(resource_type: str, value: BaseModel | Mapping[str, Any]) -> Document:
    """`{"data": <resource>}`."""
    return {"data": resource_object(resource_type, value)}


def collection_document(
    resource_type: str,
    values: Iterable[BaseModel | Mapping[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
) -> Document:
    """`{"data": [<resource>...], "meta": ..., "links": ...}`."""
    document: Document = {"data": [resource_object(resource_type, value) for value in values]}
    if meta is not None:
        document["meta"] = dict(meta)
    if links is not None:
        document["links"] = dict(links)
    return document


def error_objects(problem: HTTPProblem) -> list[dict[str, Any]]:
    """The error objects of one problem (an invalid body carries one per bad field)."""
    if isinstance(problem, InvalidBody):
        return [p.to_error_object() for p in problem.problems]
    return [problem.to_error_object()]


def error_document(*problems: HTTPProblem) -> Document:
    """`{"errors": [...]}` of the given problems."""
    return {"errors": [obj for problem in problems for obj in error_objects(problem)]}


# -- request bodies -------------------------------------------------------------


def json_pointer(*parts: str | int) -> str:
    """An RFC 6901 pointer to `parts` (`~` and `/` escaped)."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


class InvalidBody(UnprocessableEntity):
    """A request body failed validation; carries one error object per bad field."""

    def __init__(self, problems: Sequence[UnprocessableEntity]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.detail for p in self.problems))


def parse_resource_body(
    document: object,
    model: type[M],
    *,
    resource_type: str | None = None,
) -> M:
    """Validate a JSON:API request document into `model`.

    Args:
        document: the decoded JSON body.
        model: the body model; `data.attributes` (plus `data.id`, when the model has an `id`
            field) are validated into it.
        resource_type: when given, `data.type` must equal it.

    Raises:
        InvalidBody: 422, one error object per problem, each with its JSON pointer.
        Conflict: 409 when `data.type` names another resource type (JSON:API rule).
    """
    data = _require_object(_require_object(document, "").get("data"), "/data")
    declared_type = data.get("type")
    if resource_type is not None and declared_type is not None and declared_type != resource_type:
        raise Conflict(
            f"data.type is {declared_type!r} but this endpoint takes {resource_type!r}",
            pointer="/data/type",
        )
    candidate = dict(_require_object(data.get("attributes", {}), "/data/attributes"))
    id_from_data = "id" in data and "id" in model.model_fields and "id" not in candidate
    if id_from_data:
        candidate["id"] = data["id"]
    try:
        return model.model_validate(candidate)
    except ValidationError as error:
        raise InvalidBody([_field_problem(item, id_from_data) for item in error.errors()]) from error


def _require_object(value: object, pointer: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        where = pointer or "the document"
        raise InvalidBody([UnprocessableEntity(f"{where} must be a JSON object", pointer=pointer)])
    return value


def _field_problem(item: Mapping[str, Any], id_from_data: bool) -> UnprocessableEntity:
    location = tuple(item.get("loc", ()))
    if id_from_data and location and location[0] == "id":
        pointer = json_pointer("data", *location)
    else:
        pointer = json_pointer("data", "attributes", *location)
    field = ".".join(str(part) for part in location) or "body"
    return UnprocessableEntity(f"{field}: {item.get('msg', 'is invalid')}", pointer=pointer)


def parse_json(raw: bytes) -> object:
    """Decode a JSON body; malformed JSON is a 400 naming where decoding failed."""
    if not raw.strip():
        raise BadRequest("the request body is empty; expected a JSON:API document", pointer="")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None


# -- decoding (client side) ---------------------------------------------------------


def decode_resource(resource: Mapping[str, Any], model: type[M]) -> M:
    """Build `model` from one resource object (`id` merged into the attributes)."""
    attributes = dict(resource.get("attributes") or {})
    if "id" in resource and "id" not in attributes and "id" in model.model_fields:
        attributes["id"] = resource["id"]
    return model.model_validate(attributes)
