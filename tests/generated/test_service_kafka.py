"""A generated service consumes commands from the real Kafka broker and publishes its events."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka import Consumer, Producer

from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.tenant import Tenant, as_tenant

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

SPEC = """
service: fn-kafka-parties
models:
  Party:
    id: uint32
    leader_id: uint32
messages:
  PartyCommand:
    fields: {actor_id: uint32, transaction_id: uuid}
    types:
      CREATE: {party_id: uint32}
      DISBAND: {party_id: uint32}
  PartyStatus:
    fields: {actor_id: uint32, party_id: uint32}
    types:
      CREATED: {}
state:
  parties: {key: uint32, value: Party}
locks:
  party: {ttl: 2s, wait: 2s}
consumes:
  COMMAND_TOPIC_FN_PARTY:
    message: PartyCommand
    handlers: {CREATE: fn_kafka_logic.commands:create}
    dedupe: transaction_id
    lock: {name: party, key: actor_id}
produces:
  EVENT_TOPIC_FN_PARTY_STATUS: {message: PartyStatus, key: party_id}
"""

HANDLERS = {
    "fn_kafka_logic.commands": """
        async def create(ctx, message):
            party_id = message.body.party_id
            await ctx.state.parties.put(party_id, {"id": party_id, "leader_id": message.actor_id})
            await ctx.emit(
                "EVENT_TOPIC_FN_PARTY_STATUS",
                {"type": "CREATED", "actor_id": message.actor_id, "party_id": party_id},
            )
    """,
}


async def _eventually_stored(
    service: Service, tenant: Tenant, party_id: int, timeout: float = 30.0
) -> object:
    deadline = asyncio.get_running_loop().time() + timeout
    with as_tenant(tenant):
        while asyncio.get_running_loop().time() < deadline:
            value = await service.state.registries["parties"].get(party_id)
            if value is not None:
                return value
            await asyncio.sleep(0.1)
    raise AssertionError(f"party {party_id} was not stored within {timeout}s")


async def test_command_is_consumed_stored_and_announced(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    kafka_bootstrap: str,
    key_env: dict[str, str],
) -> None:
    """A CREATE command on Kafka runs the handler under its tenant, and its event reaches the status topic."""
    suffix = uuid.uuid4().hex[:10]
    commands, events = f"fn-party-command-{suffix}", f"fn-party-status-{suffix}"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("COMMAND_TOPIC_FN_PARTY", commands)
    monkeypatch.setenv("EVENT_TOPIC_FN_PARTY_STATUS", events)
    monkeypatch.setenv("KAFKA_CONSUMER_GROUP", f"fn-group-{suffix}")
    description = build_service(SPEC, HANDLERS)
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    command = {"type": "CREATE", "actor_id": 5, "transaction_id": str(uuid.uuid4()), "body": {"party_id": 77}}
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(commands, json.dumps(command).encode(), key=b"77", headers=tenant.kafka_headers())
    producer.flush(10)

    async with Service(description, environ=key_env) as service:
        stored = await _eventually_stored(service, tenant, 77)
    assert stored.model_dump() == {"id": 77, "leader_id": 5}  # type: ignore[attr-defined]

    reader = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": f"reader-{suffix}",
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([events])
    try:
        record = None
        for _ in range(60):
            record = reader.poll(0.5)
            if record is not None and record.error() is None:
                break
        assert record is not None and record.error() is None
        assert json.loads(record.value()) == {"actor_id": 5, "party_id": 77, "type": "CREATED", "body": {}}
        assert record.key() == b"77"
        assert dict(record.headers())["TENANT_ID"] == str(tenant.id).encode()
    finally:
        reader.close()


COUNTER_SPEC = """
service: fn-kafka-counters
models:
  Counter: {id: uint32, hits: uint32}
messages:
  CounterCommand:
    fields: {actor_id: uint32}
    types:
      BUMP: {}
state:
  counters: {key: uint32, value: Counter}
consumes:
  COMMAND_TOPIC_FN_COUNTER:
    message: CounterCommand
    handlers: {BUMP: fn_counter_logic.commands:bump}
    retry: {attempts: 3, initial: 10ms, max: 50ms}
"""

COUNTER_HANDLERS = {
    "fn_counter_logic.commands": """
        attempts = 0

        async def bump(ctx, message):
            global attempts
            attempts += 1
            key, counters = message.actor_id, ctx.state.counters
            if await counters.update(key, lambda c: c.model_copy(update={"hits": c.hits + 1})) is None:
                await counters.put(key, {"id": key, "hits": 1})
            if attempts == 1:
                raise RuntimeError("fails after its write, on the first attempt only")
    """,
}


async def test_writes_of_a_failed_attempt_are_discarded(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    kafka_bootstrap: str,
    key_env: dict[str, str],
) -> None:
    """A handler's registry writes commit with its inbox marker: a failed attempt leaves no trace."""
    suffix = uuid.uuid4().hex[:10]
    topic = f"fn-counter-command-{suffix}"
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("COMMAND_TOPIC_FN_COUNTER", topic)
    monkeypatch.setenv("KAFKA_CONSUMER_GROUP", f"fn-group-{suffix}")
    description = build_service(COUNTER_SPEC, COUNTER_HANDLERS)
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    command = {"type": "BUMP", "actor_id": 9, "body": {}}
    producer.produce(topic, json.dumps(command).encode(), headers=tenant.kafka_headers())
    producer.flush(10)

    async with Service(description, environ=key_env) as service:
        registry = service.state.registries["counters"]
        deadline = asyncio.get_running_loop().time() + 30
        with as_tenant(tenant):
            while (counter := await registry.get(9)) is None:
                assert asyncio.get_running_loop().time() < deadline, "the command was never applied"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # a wrongly kept first attempt would show as a second hit
            assert (await registry.get(9)).hits == 1  # type: ignore[union-attr]
    assert counter.hits == 1  # type: ignore[attr-defined]
