"""A generated service, started in-process on the real Redis, answers its REST routes."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.state.memory_backend import MemoryBackend

pytestmark = pytest.mark.redis

SPEC = """
service: fn-parties
models:
  Party:
    id: uint32
    leader_id: uint32
    members: list[uint32]
  PartyCreate:
    leader_id: uint32
  Member:
    id: uint32
    name: str
  Status:
    actor_id: uint32
messages:
  PartyStatus:
    fields: {actor_id: uint32, party_id: uint32}
    types:
      CREATED: {}
state:
  parties:
    key: uint32
    value: Party
    ids: {start: 1000}
    indexes:
      member: {field: members}
      leader: {field: leader_id}
produces:
  EVENT_TOPIC_FN_PARTY_STATUS: {message: PartyStatus, key: party_id}
endpoints:
  /parties:
    get: {list: parties, filters: {members.id: member, leader: leader}}
    post: {handler: fn_parties_logic.rest:create, body: PartyCreate, status: 201}
  /parties/{id}:
    get: {get: parties}
    delete: {remove: parties}
  /parties/{id}/members:
    get: {handler: fn_parties_logic.rest:members, returns: "list[Member]"}
tasks:
  count: {every: 100ms, handler: fn_parties_logic.tasks:count}
"""

HANDLERS = {
    "fn_parties_logic.rest": """
        from atlas_runtime.errors import NotFound

        async def create(ctx, request):
            party_id = await ctx.state.parties.next_id()
            leader = request.body.leader_id
            await ctx.state.parties.put(party_id, {"id": party_id, "leader_id": leader, "members": [leader]})
            return await ctx.state.parties.get(party_id)

        async def members(ctx, request):
            party = await ctx.state.parties.get(request.params["id"])
            if party is None:
                raise NotFound(f"no party {request.params['id']}")
            return [{"id": m, "name": f"member {m}"} for m in party.members]
    """,
    "fn_parties_logic.tasks": """
        RUNS = []

        async def count(ctx):
            RUNS.append((ctx.tenant.key, len([v async for v in ctx.state.parties.values()])))
    """,
}

TOPICS = {"EVENT_TOPIC_FN_PARTY_STATUS": "fn-party-status"}


@pytest.fixture
def description(build_service: Callable[[str, dict[str, str]], ServiceDescription]) -> ServiceDescription:
    return build_service(SPEC, HANDLERS)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, redis_url: str) -> None:
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("BOOTSTRAP_SERVERS", raising=False)
    for token, topic in TOPICS.items():
        monkeypatch.setenv(token, topic)


@pytest.fixture
async def client(
    description: ServiceDescription, env: None, key_env: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    service = Service(description, environ=key_env)
    app = service.create_app()
    async with (
        service,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
    ):
        http.service = service  # type: ignore[attr-defined]
        yield http


async def _create(client: httpx.AsyncClient, headers: dict[str, str], leader: int) -> dict[str, Any]:
    body = {"data": {"type": "parties", "attributes": {"leader_id": leader}}}
    response = await client.post("/api/parties", json=body, headers=headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def test_handler_route_creates_and_registry_routes_read_and_remove(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """POST runs the handler; GET answers the stored resource; DELETE removes it, then GET is 404."""
    headers = tenant_headers()
    created = await _create(client, headers, leader=7)
    assert created == {"type": "parties", "id": "1000", "attributes": {"leader_id": 7, "members": [7]}}
    got = await client.get("/api/parties/1000", headers=headers)
    assert got.status_code == 200 and got.json()["data"] == created
    members = await client.get("/api/parties/1000/members", headers=headers)
    assert members.json()["data"] == [{"type": "members", "id": "7", "attributes": {"name": "member 7"}}]
    assert (await client.delete("/api/parties/1000", headers=headers)).status_code == 204
    missing = await client.get("/api/parties/1000", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["status"] == "404"
    assert (await client.delete("/api/parties/1000", headers=headers)).status_code == 404


async def test_list_pages_in_key_order(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """The list route pages the registry by key with meta and links; bad page values are 400."""
    headers = tenant_headers()
    for leader in range(5):
        await _create(client, headers, leader=leader)
    page = await client.get("/api/parties", params={"page[number]": "2", "page[size]": "2"}, headers=headers)
    body = page.json()
    assert [r["id"] for r in body["data"]] == ["1002", "1003"]
    assert body["meta"] == {"total": 5, "page": {"number": 2, "size": 2, "last": 3}}
    assert {"self", "first", "last", "prev", "next"} <= set(body["links"])
    bad = await client.get("/api/parties", params={"page[size]": "0"}, headers=headers)
    assert bad.status_code == 400


async def test_list_filters_by_declared_indexes(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """`filter[...]` parameters look keys up through their indexes; several filters intersect."""
    headers = tenant_headers()
    for leader in (3, 4, 3):
        await _create(client, headers, leader=leader)
    by_member = await client.get("/api/parties", params={"filter[members.id]": "3"}, headers=headers)
    assert [r["id"] for r in by_member.json()["data"]] == ["1000", "1002"]
    both = await client.get(
        "/api/parties", params={"filter[members.id]": "3", "filter[leader]": "4"}, headers=headers
    )
    assert both.json()["data"] == []
    unknown = await client.get("/api/parties", params={"filter[colour]": "red"}, headers=headers)
    assert unknown.status_code == 400
    assert "filter[members.id]" in unknown.json()["errors"][0]["detail"]
    wrong = await client.get("/api/parties", params={"filter[members.id]": "abc"}, headers=headers)
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["source"] == {"parameter": "filter[members.id]"}


async def test_tenants_are_isolated_and_headers_required(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """Another tenant sees none of the first one's state; a missing tenant header is 400."""
    first, second = tenant_headers(), tenant_headers()
    await _create(client, first, leader=1)
    assert (await client.get("/api/parties/1000", headers=second)).status_code == 404
    assert (await client.get("/api/parties", headers=second)).json()["meta"]["total"] == 0
    assert (await client.get("/api/parties")).status_code == 400


async def test_invalid_body_is_422_before_the_handler(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """A body that does not match the declared model is rejected with 422 and nothing is stored."""
    headers = tenant_headers()
    body = {"data": {"type": "parties", "attributes": {"leader_id": -1}}}
    response = await client.post("/api/parties", json=body, headers=headers)
    assert response.status_code == 422
    assert (await client.get("/api/parties", headers=headers)).json()["meta"]["total"] == 0


async def test_task_runs_once_per_tenant_with_state(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """A periodic task runs for every tenant that wrote state, with that tenant bound."""
    import fn_parties_logic.tasks as tasks

    first, second = tenant_headers(), tenant_headers()
    await _create(client, first, leader=1)
    await _create(client, second, leader=2)
    await _create(client, second, leader=3)
    tasks.RUNS.clear()
    await asyncio.sleep(0.35)
    seen = {tenant_id.split(":")[0]: count for tenant_id, count in tasks.RUNS}
    assert seen == {first["TENANT_ID"]: 1, second["TENANT_ID"]: 2}


async def test_emit_validates_against_the_declared_envelope(
    description: ServiceDescription, env: None
) -> None:
    """`ctx.emit` accepts a dict matching the envelope, refuses undeclared tokens and bad dicts."""
    sent: list[tuple[str, Any, object]] = []

    class Recorder:
        async def emit(self, token: str, message: Any, *, key: object = None) -> None:
            sent.append((token, message, key))

        async def start(self, service: Service) -> None:
            return None

        async def stop_consuming(self) -> None:
            return None

        async def stop(self) -> None:
            return None

    service = Service(
        description, environ={"ATLAS_ENV": f"emit-{uuid.uuid4().hex[:8]}"}, messaging=Recorder()
    )
    ctx = service.context()
    await ctx.emit("EVENT_TOPIC_FN_PARTY_STATUS", {"type": "CREATED", "actor_id": 1, "party_id": 9})
    assert sent[0][0] == "EVENT_TOPIC_FN_PARTY_STATUS"
    assert type(sent[0][1]).__name__ == "PartyStatusCreated" and sent[0][2] == 9
    with pytest.raises(ConfigurationError, match="does not produce"):
        await ctx.emit("OTHER_TOPIC", {})
    with pytest.raises(ValueError):
        await ctx.emit("EVENT_TOPIC_FN_PARTY_STATUS", {"type": "CREATED", "actor_id": "x"})
    await service.state.backend.aclose()


def test_missing_topic_env_var_is_a_startup_error(
    description: ServiceDescription, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A topic token with no env var stops start-up with an error naming it."""
    monkeypatch.delenv("EVENT_TOPIC_FN_PARTY_STATUS", raising=False)
    with pytest.raises(ConfigurationError, match="EVENT_TOPIC_FN_PARTY_STATUS: not set"):
        Service(description)


def test_settings_and_environ_choose_the_backends(
    description: ServiceDescription, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`environ` feeds the settings; settings passed in explicitly win over the environment."""
    monkeypatch.delenv("EVENT_TOPIC_FN_PARTY_STATUS", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    overlaid = Service(description, environ={**TOPICS, "REDIS_URL": "", "REST_PORT": "18123"})
    assert overlaid.settings.rest_port == 18123
    assert isinstance(overlaid.state.backend, MemoryBackend)

    monkeypatch.setenv("EVENT_TOPIC_FN_PARTY_STATUS", "fn-party-status")
    explicit = Service(description, settings=description.settings(redis_url=None))
    assert isinstance(explicit.state.backend, MemoryBackend)
    assert explicit.settings.redis_url is None


async def test_embedded_state_is_announced(
    description: ServiceDescription,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tenant_headers: Callable[[], dict[str, str]],
) -> None:
    """Without REDIS_URL the service runs on in-process state and warns about it."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("AUTH_MODE", "off")
    for token, topic in TOPICS.items():
        monkeypatch.setenv(token, topic)
    with caplog.at_level(logging.WARNING):
        service = Service(description)
    assert "REDIS_URL is not set" in caplog.text
    app = service.create_app()
    headers = tenant_headers()
    async with (
        service,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        await _create(http, headers, leader=5)
        assert (await http.get("/api/parties/1000", headers=headers)).status_code == 200
