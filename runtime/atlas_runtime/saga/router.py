"""REST of the orchestrator: `/api/sagas` as a FastAPI router, JSON:API documents.

- `GET /sagas`: the current tenant's sagas, newest first, paged in SQL with
  `page[number]`/`page[size]` (`meta.total`, `meta.page`, `links`); `filter[status]`
  takes one status or a comma-separated list.
- `GET /sagas/{id}`: one saga of the current tenant (404 otherwise).
- `POST /sagas`: start one. Body `{"data": {"type": "sagas", "id"?: <transaction id>,
  "attributes": {"sagaType": ..., "data": {...}, "initiatedBy"?: ...}}}`. 201 with the
  new saga, or 200 with the existing one when the transaction id is already known
  (idempotent); 409 when that id belongs to another tenant. An unknown type or missing
  data field is a 422.

Mount it with `create_app(..., routers=[orchestrator.router()])`: the app binds the
tenant from the request headers and renders errors as JSON:API.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from atlas_runtime.errors import BadRequest, NotFound, UnprocessableEntity
from atlas_runtime.rest import (
    JsonApiResponse,
    Page,
    collection_document,
    parse_query,
    parse_resource_body,
    resource_document,
)
from atlas_runtime.rest.jsonapi import parse_json
from atlas_runtime.saga.errors import UnknownSagaType
from atlas_runtime.saga.model import Saga, SagaStatus
from atlas_runtime.tenant import current_tenant

if TYPE_CHECKING:
    from atlas_runtime.saga.orchestrator import SagaOrchestrator

RESOURCE = "sagas"


class SagaStartBody(BaseModel):
    """Attributes of `POST /sagas`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: uuid.UUID | None = None
    saga_type: str = Field(alias="sagaType", min_length=1)
    data: dict[str, Any] = Field(default_factory=dict)
    initiated_by: str = Field(default="", alias="initiatedBy", max_length=255)


def saga_resource(saga: Saga) -> dict[str, Any]:
    """The attributes of a saga resource (its id is the transaction id)."""
    stamp = _iso
    return {
        "id": str(saga.id),
        **saga.document(),
        "status": saga.status.value,
        "version": saga.version,
        "tenant": {
            "id": str(saga.tenant.id),
            "region": saga.tenant.region,
            "majorVersion": saga.tenant.major_version,
            "minorVersion": saga.tenant.minor_version,
        },
        "createdAt": stamp(saga.created_at),
        "updatedAt": stamp(saga.updated_at),
        "deadline": stamp(saga.deadline),
    }


def saga_router(orchestrator: SagaOrchestrator) -> APIRouter:
    """The `/sagas` routes over `orchestrator` (include it under `/api`)."""
    router = APIRouter()

    @router.get("/sagas")
    async def list_sagas(request: Request) -> JsonApiResponse:
        query = parse_query(request.query_params.multi_items())
        statuses = _statuses(query.filters.get("status"))
        async with orchestrator.database.session_across_tenants() as session:
            sagas, total = await orchestrator.store.page(
                session,
                current_tenant(),
                offset=query.page.offset,
                limit=query.page.size,
                statuses=statuses,
            )
        page = Page(sagas, total, query.page)
        document = collection_document(
            RESOURCE,
            [saga_resource(saga) for saga in sagas],
            meta=page.meta(),
            links=page.links(request.url.path, request.query_params.multi_items()),
        )
        return JsonApiResponse(document)

    @router.get("/sagas/{saga_id}")
    async def get_saga(saga_id: str) -> JsonApiResponse:
        saga = await orchestrator.get(_parse_id(saga_id))
        if saga is None or saga.tenant != current_tenant():
            raise NotFound(f"no saga {saga_id}")
        return JsonApiResponse(resource_document(RESOURCE, saga_resource(saga)))

    @router.post("/sagas")
    async def start_saga(request: Request) -> JsonApiResponse:
        body = parse_resource_body(parse_json(await request.body()), SagaStartBody, resource_type=RESOURCE)
        try:
            result = await orchestrator.start(
                body.saga_type, body.data, transaction_id=body.id, initiated_by=body.initiated_by
            )
        except UnknownSagaType as error:
            raise UnprocessableEntity(str(error), pointer="/data/attributes/sagaType") from error
        document = resource_document(RESOURCE, saga_resource(result.saga))
        return JsonApiResponse(document, status_code=201 if result.created else 200)

    return router


def _parse_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise NotFound(f"no saga {raw}: a saga id is a UUID") from None


def _statuses(raw: str | None) -> list[SagaStatus]:
    if not raw:
        return []
    try:
        return [SagaStatus(part.strip()) for part in raw.split(",") if part.strip()]
    except ValueError:
        known = ", ".join(s.value for s in SagaStatus)
        raise BadRequest(
            f"filter[status] {raw!r} is not one of {known}", parameter="filter[status]"
        ) from None


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
