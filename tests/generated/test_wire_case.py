"""A `wire_case: camel` service speaks camelCase on REST, Kafka and Redis; Python keeps the declared names."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import httpx
import pytest
import redis.asyncio as redis
from confluent_kafka import Consumer, Producer

from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.tenant import Tenant

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

SPEC = """
service: fn-camel-characters
wire_case: camel
models:
  Character:
    id: uint32
    world_id: uint16
    party_id: uint32?
messages:
  CharacterCommand:
    fields: {transaction_id: uuid, character_id: uint32}
    types:
      JOIN_PARTY: {party_id: uint32}
  CharacterStatus:
    fields: {character_id: uint32}
    types:
      JOINED_PARTY: {party_id: uint32}
state:
  characters: {key: uint32, value: Character}
consumes:
  COMMAND_TOPIC_FN_CHARACTER:
    message: CharacterCommand
    handlers: {JOIN_PARTY: fn_camel_logic.commands:join}
    dedupe: transaction_id
produces:
  EVENT_TOPIC_FN_CHARACTER_STATUS: {message: CharacterStatus, key: character_id}
endpoints:
  /characters:
    post: {handler: fn_camel_logic.rest:create, body: Character, status: 201}
  /characters/{id}:
    get: {get: characters}
"""

HANDLERS = {
    "fn_camel_logic.commands": """
        async def join(ctx, message):
            character = await ctx.state.characters.get(message.character_id)
            character.party_id = message.body.party_id
            await ctx.state.characters.put(character.id, character)
            body = {"party_id": character.party_id}
            status = {"type": "JOINED_PARTY", "character_id": character.id, "body": body}
            await ctx.emit("EVENT_TOPIC_FN_CHARACTER_STATUS", status)
    """,
    "fn_camel_logic.rest": """
        async def create(ctx, request):
            await ctx.state.characters.put(request.body.id, request.body)
            return request.body
    """,
}


def _read_one(bootstrap: str, topic: str) -> dict[str, object]:
    reader = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"r-{topic}", "auto.offset.reset": "earliest"}
    )
    reader.subscribe([topic])
    try:
        for _ in range(60):
            record = reader.poll(0.5)
            if record is not None and record.error() is None:
                decoded: dict[str, object] = json.loads(record.value())
                return decoded
    finally:
        reader.close()
    raise AssertionError(f"nothing arrived on {topic}")


async def test_rest_kafka_and_redis_speak_camel_case(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    kafka_bootstrap: str,
    key_env: dict[str, str],
    tenant_headers: Callable[[], dict[str, str]],
) -> None:
    """camelCase in (REST body, Kafka command), camelCase out (REST resource, Kafka event, Redis value)."""
    suffix = uuid.uuid4().hex[:10]
    commands, events = f"fn-camel-command-{suffix}", f"fn-camel-status-{suffix}"
    for name, value in {
        "REDIS_URL": redis_url,
        "BOOTSTRAP_SERVERS": kafka_bootstrap,
        "COMMAND_TOPIC_FN_CHARACTER": commands,
        "EVENT_TOPIC_FN_CHARACTER_STATUS": events,
        "KAFKA_CONSUMER_GROUP": f"fn-camel-{suffix}",
        "AUTH_MODE": "off",
    }.items():
        monkeypatch.setenv(name, value)
    service = Service(build_service(SPEC, HANDLERS), environ=key_env)
    headers = tenant_headers()
    tenant = Tenant.from_http_headers(headers)
    app = service.create_app()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
    ):
        body = {"data": {"type": "characters", "attributes": {"id": 7, "worldId": 2, "partyId": None}}}
        created = await http.post("/api/characters", json=body, headers=headers)
        assert created.status_code == 201, created.text
        assert created.json()["data"]["id"] == "7"
        assert created.json()["data"]["attributes"] == {"worldId": 2, "partyId": None}

        command = {
            "type": "JOIN_PARTY",
            "transactionId": str(uuid.uuid4()),
            "characterId": 7,
            "body": {"partyId": 40},
        }
        producer = Producer({"bootstrap.servers": kafka_bootstrap})
        producer.produce(commands, json.dumps(command).encode(), key=b"7", headers=tenant.kafka_headers())
        producer.flush(10)
        event = await asyncio.to_thread(_read_one, kafka_bootstrap, events)
        assert event == {"type": "JOINED_PARTY", "characterId": 7, "body": {"partyId": 40}}

        fetched = await http.get("/api/characters/7", headers=headers)
        assert fetched.json()["data"]["attributes"] == {"worldId": 2, "partyId": 40}
        client = redis.Redis.from_url(redis_url)
        try:
            stored = [
                await client.get(key) async for key in client.scan_iter(f"*{tenant.id}*") if b":7" in key
            ]
        finally:
            await client.aclose()
        values = [json.loads(raw) for raw in stored if raw and raw.startswith(b"{")]
        assert {"id": 7, "worldId": 2, "partyId": 40} in values
