"""The example ecosystem of the README (`generated/` + `logic/`) on the embedded defaults.

What `atlas-gen up` runs: every service in one process on the in-process state, the
in-process bus and SQLite, driven over REST and through command topics.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from atlas_runtime.messaging import OutboundMessage, default_broker
from atlas_runtime.service import Service
from atlas_runtime.service.launcher import ecosystem_app
from atlas_runtime.service.testing import tenant_headers
from atlas_runtime.tenant import Tenant

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("buffs", "drops", "parties")
TOKENS = (
    "COMMAND_TOPIC_CHARACTER_BUFF",
    "COMMAND_TOPIC_DROP",
    "COMMAND_TOPIC_PARTY",
    "EVENT_TOPIC_CHARACTER_BUFF_STATUS",
    "EVENT_TOPIC_DROP_STATUS",
    "EVENT_TOPIC_PARTY_STATUS",
)

Topics = dict[str, str]


@pytest.fixture
def topics(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Topics:
    """Embedded defaults, as `atlas-gen up` sets them; topic names unique to this test."""
    for name in ("REDIS_URL", "BOOTSTRAP_SERVERS", "DB_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.setenv("BASE_SERVICE_URL", "http://127.0.0.1:9/api/")  # calls are not exercised here
    monkeypatch.chdir(tmp_path)  # the SQLite files
    run = uuid.uuid4().hex[:8]
    names = {token: f"{token.lower()}-{run}" for token in TOKENS}
    for token, name in names.items():
        monkeypatch.setenv(token, name)
    return names


@pytest.fixture
async def ecosystem(topics: Topics, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.syspath_prepend(str(ROOT / "generated"))
    monkeypatch.syspath_prepend(str(ROOT / "logic"))
    services = [Service(importlib.import_module(f"atlas_{name}").SERVICE) for name in SERVICES]
    app = ecosystem_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://atlas") as http:
        for service in services:
            await service.start()
        try:
            yield http
        finally:
            for service in reversed(services):
                await service.stop()
    for name in list(sys.modules):
        if name.split(".")[0] in {f"atlas_{s}" for s in SERVICES} | {f"{s}_logic" for s in SERVICES}:
            del sys.modules[name]


async def _send(topic: str, tenant: Tenant, envelope: dict[str, Any]) -> None:
    await default_broker().append(
        OutboundMessage(topic, None, json.dumps(envelope).encode(), tenant.kafka_headers())
    )


async def _events(topic: str, until: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The envelopes on `topic` once `until` holds for them (at most 10 s)."""
    async with asyncio.timeout(10):
        while True:
            events = [json.loads(record.value) for record in default_broker().records(topic)]
            if until(events):
                return events
            await asyncio.sleep(0.02)


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"] for event in events]


async def test_a_party_is_created_over_rest_and_joined_by_command(
    ecosystem: httpx.AsyncClient, topics: Topics
) -> None:
    """POST makes a party; a JOIN command (delivered twice) adds the member once and announces it once."""
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    headers = tenant_headers(tenant)
    body = {"data": {"type": "parties", "attributes": {"leader_id": 7}}}
    assert (await ecosystem.post("/api/parties", json=body, headers=headers)).status_code == 202
    found = (await ecosystem.get("/api/parties", params={"filter[members.id]": "7"}, headers=headers)).json()
    [party] = found["data"]
    join = {
        "type": "JOIN",
        "actor_id": 8,
        "transaction_id": str(uuid.uuid4()),
        "body": {"party_id": int(party["id"])},
    }
    await _send(topics["COMMAND_TOPIC_PARTY"], tenant, join)
    await _send(topics["COMMAND_TOPIC_PARTY"], tenant, join)  # redelivered: deduplicated
    status = topics["EVENT_TOPIC_PARTY_STATUS"]
    await _events(status, lambda events: "JOINED" in _types(events))
    got = (await ecosystem.get(f"/api/parties/{party['id']}", headers=headers)).json()
    assert got["data"]["attributes"]["members"] == [7, 8]
    await asyncio.sleep(0.3)  # time for a second, wrong, JOINED to appear
    assert _types(await _events(status, bool)) == ["CREATED", "JOINED"]
    other = (await ecosystem.get(f"/api/parties/{party['id']}", headers=tenant_headers())).status_code
    assert other == 404


async def test_a_drop_is_spawned_reserved_and_picked_up_through_the_outbox(
    ecosystem: httpx.AsyncClient, topics: Topics
) -> None:
    """Commands on the camelCase drop topic: each step's event leaves through the SQLite outbox."""
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    headers = tenant_headers(tenant)
    commands, status = topics["COMMAND_TOPIC_DROP"], topics["EVENT_TOPIC_DROP_STATUS"]

    def command(kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "actorId": 3, "mapId": 100, "transactionId": str(uuid.uuid4()), "body": body}

    spawn = {"itemId": 2000, "quantity": 2, "meso": 0, "x": 1, "y": 2, "ownerId": None}
    await _send(commands, tenant, command("SPAWN", spawn))
    [spawned] = await _events(status, lambda events: "SPAWNED" in _types(events))
    drop_id = spawned["dropId"]
    listed = (await ecosystem.get("/api/maps/100/drops", headers=headers)).json()
    assert [d["id"] for d in listed["data"]] == [str(drop_id)]
    await _send(commands, tenant, command("RESERVE", {"dropId": drop_id}))
    await _events(status, lambda events: "RESERVED" in _types(events))
    await _send(commands, tenant, command("PICK_UP", {"dropId": drop_id}))
    events = await _events(status, lambda events: "PICKED_UP" in _types(events))
    assert _types(events) == ["SPAWNED", "RESERVED", "PICKED_UP"]
    assert events[-1]["body"] == {"itemId": 2000, "quantity": 2, "meso": 0}
    assert (await ecosystem.get(f"/api/drops/{drop_id}", headers=headers)).status_code == 404
