"""`/api/sagas` served by the runtime's app factory: start, read and list, as JSON:API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from atlas_runtime.auth.settings import AuthSettings
from atlas_runtime.db import Database
from atlas_runtime.rest import MEDIA_TYPE, create_app
from atlas_runtime.saga import SagaOrchestrator

from .conftest import OTHER_TENANT, TENANT
from .specs import order_definitions, topics_for

pytestmark = pytest.mark.postgres


@pytest.fixture
async def client(saga_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    orchestrator = SagaOrchestrator(order_definitions(), saga_db, topics=topics_for("rest"))
    app = create_app("orders", routers=[orchestrator.router()], auth=AuthSettings(mode="off"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://orders", headers=TENANT.http_headers()
    ) as http:
        yield http


def start_body(
    saga_type: str, data: dict[str, object], saga_id: uuid.UUID | None = None
) -> dict[str, object]:
    resource: dict[str, object] = {"type": "sagas", "attributes": {"sagaType": saga_type, "data": data}}
    if saga_id is not None:
        resource["id"] = str(saga_id)
    return {"data": resource}


async def test_post_starts_a_saga_once(client: httpx.AsyncClient) -> None:
    """POST creates a saga (201); the same id again returns it unchanged (200), to another tenant 409."""
    saga_id = uuid.uuid4()
    created = await client.post("/api/sagas", json=start_body("three", {"order_id": 1, "amount": 5}, saga_id))
    assert created.status_code == 201, created.text
    assert created.headers["content-type"].startswith(MEDIA_TYPE)
    resource = created.json()["data"]
    assert (resource["type"], resource["id"]) == ("sagas", str(saga_id))
    assert resource["attributes"]["status"] == "active"
    assert resource["attributes"]["steps"][0]["status"] == "dispatched"
    again = await client.post("/api/sagas", json=start_body("three", {"order_id": 2, "amount": 9}, saga_id))
    assert again.status_code == 200
    assert again.json()["data"]["attributes"]["data"] == {"order_id": 1, "amount": 5}
    foreign = await client.post(
        "/api/sagas",
        json=start_body("three", {"order_id": 1, "amount": 5}, saga_id),
        headers=OTHER_TENANT.http_headers(),
    )
    assert foreign.status_code == 409
    assert "order_id" not in foreign.text


async def test_post_rejects_unknown_types_and_bad_data(client: httpx.AsyncClient) -> None:
    """An unknown saga type or missing data field is a 422 JSON:API error naming the problem."""
    unknown = await client.post("/api/sagas", json=start_body("nine", {"order_id": 1, "amount": 5}))
    assert unknown.status_code == 422
    assert "nine" in unknown.json()["errors"][0]["detail"]
    missing = await client.post("/api/sagas", json=start_body("three", {"order_id": 1}))
    assert missing.status_code == 422
    assert "amount" in missing.json()["errors"][0]["detail"]


async def test_get_returns_only_the_tenants_saga(client: httpx.AsyncClient) -> None:
    """GET by id returns the tenant's saga; another tenant or a malformed id gets 404."""
    posted = await client.post("/api/sagas", json=start_body("four", {"order_id": 3, "amount": 1}))
    saga_id = posted.json()["data"]["id"]
    found = await client.get(f"/api/sagas/{saga_id}")
    assert found.status_code == 200
    assert found.json()["data"]["attributes"]["sagaType"] == "four"
    foreign = await client.get(f"/api/sagas/{saga_id}", headers=OTHER_TENANT.http_headers())
    assert foreign.status_code == 404
    assert (await client.get("/api/sagas/not-a-uuid")).status_code == 404


async def test_list_is_paged_in_sql_with_meta_and_links(client: httpx.AsyncClient) -> None:
    """The list pages the tenant's sagas with page[number]/page[size], meta.total and links."""
    for n in range(5):
        await client.post("/api/sagas", json=start_body("three", {"order_id": n, "amount": n}))
    await client.post(
        "/api/sagas",
        json=start_body("three", {"order_id": 99, "amount": 1}),
        headers=OTHER_TENANT.http_headers(),
    )
    page = await client.get("/api/sagas", params={"page[number]": "2", "page[size]": "2"})
    assert page.status_code == 200
    document = page.json()
    assert document["meta"] == {"total": 5, "page": {"number": 2, "size": 2, "last": 3}}
    assert len(document["data"]) == 2
    assert {"self", "first", "last", "prev", "next"} <= document["links"].keys()
    orders = []
    for number in (1, 2, 3):
        chunk = await client.get("/api/sagas", params={"page[number]": str(number), "page[size]": "2"})
        orders += [r["attributes"]["data"]["order_id"] for r in chunk.json()["data"]]
    assert sorted(orders) == [0, 1, 2, 3, 4]
    active = await client.get("/api/sagas", params={"filter[status]": "active"})
    assert active.json()["meta"]["total"] == 5
    done = await client.get("/api/sagas", params={"filter[status]": "completed,compensated"})
    assert done.json()["meta"]["total"] == 0
    bad = await client.get("/api/sagas", params={"filter[status]": "sleeping"})
    assert bad.status_code == 400
