"""Broker-independent pieces: commit cursor, settings, codec, trace context, partitioner, dead letters."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

import atlas_runtime.messaging as messaging
from atlas_runtime.errors import ConfigurationError, NoTenantError
from atlas_runtime.messaging import (
    EnvelopeCodec,
    MemoryBroker,
    MemoryProducerBackend,
    MessageDecodeError,
    MessagingSettings,
    OffsetTracker,
    Producer,
    Record,
    TraceContext,
    bind_trace,
    dead_letter_message,
    partition_for,
    resolve_consumer_group,
    resolve_topics,
    retry_policy,
)
from atlas_runtime.messaging._memory import murmur2
from atlas_runtime.retry import RetryPolicy
from atlas_runtime.tenant import Tenant, as_tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


def test_cursor_commits_only_the_contiguous_prefix() -> None:
    """A later finished offset never moves the commit cursor past an earlier unfinished one."""
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.track(offset)
    tracker.finish(12)
    tracker.finish(13)
    assert tracker.committable() is None
    tracker.finish(10)
    assert tracker.committable() == 11
    tracker.committed(11)
    assert tracker.committable() is None
    tracker.finish(11)
    assert tracker.committable() == 14
    assert tracker.in_flight == 0


def test_cursor_rejects_offsets_out_of_fetch_order() -> None:
    """Tracking an offset lower than the last tracked one is an error."""
    tracker = OffsetTracker()
    tracker.track(5)
    with pytest.raises(ValueError, match="offset 4 tracked after 5"):
        tracker.track(4)


def test_every_missing_topic_token_is_reported_at_once() -> None:
    """resolve_topics names all unset tokens in one ConfigurationError."""
    with pytest.raises(ConfigurationError, match="EVENT_TOPIC_B, EVENT_TOPIC_C"):
        resolve_topics(
            ["EVENT_TOPIC_A", "EVENT_TOPIC_B", "EVENT_TOPIC_C"], {"EVENT_TOPIC_A": "a", "EVENT_TOPIC_C": " "}
        )
    assert resolve_topics(["T"], {"T": "t-main"}) == {"T": "t-main"}


def test_consumer_group_comes_from_env_then_spec_then_service() -> None:
    """KAFKA_CONSUMER_GROUP wins over the spec's group, which wins over '<service> service'."""
    assert resolve_consumer_group("parties", "Party Service", {"KAFKA_CONSUMER_GROUP": "g [pr]"}) == "g [pr]"
    assert resolve_consumer_group("parties", "Party Service", {}) == "Party Service"
    assert resolve_consumer_group("parties", None, {}) == "parties service"


def test_settings_split_bootstrap_servers_and_pick_the_embedded_bus_when_unset() -> None:
    """BOOTSTRAP_SERVERS is comma-split; without it the settings say embedded."""
    env = {"T": "topic", "BOOTSTRAP_SERVERS": "a:9092, b:9092,", "REDIS_URL": "redis://x"}
    settings = MessagingSettings.from_env("svc", ["T"], env=env)
    assert settings.bootstrap_servers == ["a:9092", "b:9092"]
    assert not settings.embedded
    assert MessagingSettings.from_env("svc", ["T"], env={"T": "topic"}).embedded
    with pytest.raises(ConfigurationError, match="unknown topic token 'U'"):
        settings.topic("U")


class CamelEnvelope(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    type: str
    body: dict[str, int]
    transaction_id: str


def test_codec_reads_and_writes_camel_case_through_model_aliases() -> None:
    """A camelCase wire envelope decodes to snake_case fields and encodes back to camelCase."""
    codec = EnvelopeCodec(CamelEnvelope)
    kind, envelope = codec.decode(b'{"type": "JOIN", "body": {"partyId": 1}, "transactionId": "t1"}')
    assert (kind, envelope.transaction_id) == ("JOIN", "t1")
    assert b'"transactionId":"t1"' in codec.encode({"type": "JOIN", "body": {}, "transaction_id": "t1"})


@pytest.mark.parametrize("value", [None, b"", b"{", b"[1]", b'{"type": 3}', b"\xff\xfe"])
def test_codec_rejects_values_that_are_not_envelopes(value: bytes | None) -> None:
    """Empty, non-JSON, non-object and type-less values raise MessageDecodeError, typed or not."""
    for codec in (EnvelopeCodec(CamelEnvelope), EnvelopeCodec(None)):
        with pytest.raises(MessageDecodeError) as raised:
            codec.decode(value)
        assert raised.value.message_type is None


def test_codec_rejects_an_envelope_failing_validation_and_names_its_type() -> None:
    """A JSON object that does not validate raises MessageDecodeError carrying the type it claims."""
    with pytest.raises(MessageDecodeError, match="not a valid envelope") as raised:
        EnvelopeCodec(CamelEnvelope).decode(b'{"type": "X", "body": "nope"}')
    assert raised.value.message_type == "X"


def test_trace_context_round_trips_and_children_keep_the_trace_id() -> None:
    """A traceparent header parses back, and a child keeps the trace id with a new span id."""
    trace = TraceContext.new()
    parsed = TraceContext.from_headers([*trace.headers(), ("tracestate", b"k=v")])
    assert parsed is not None and parsed.trace_id == trace.trace_id and parsed.state == "k=v"
    child = trace.child()
    assert (child.trace_id, child.parent_id != trace.parent_id) == (trace.trace_id, True)
    assert TraceContext.from_headers([("traceparent", b"garbage")]) is None


def test_partitioner_matches_kafka_murmur2() -> None:
    """murmur2 gives the Java client's values (Kafka's own test vectors)."""
    vectors = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for data, signed in vectors.items():
        assert murmur2(data) == signed & 0xFFFFFFFF
    assert partition_for(b"21", 4) == (-973932308 & 0x7FFFFFFF) % 4


def test_dead_letter_copy_keeps_key_value_and_headers() -> None:
    """The dead-letter message keeps the original key, value and headers and adds the failure."""
    record = Record("orders", 2, 41, b"k", b"v", [("TENANT_ID", b"t")])
    message = dead_letter_message(record, KeyError("x"), attempts=5, group="g")
    headers = dict(message.headers)
    assert (message.topic, message.key, message.value) == ("orders.DLT", b"k", b"v")
    assert headers["TENANT_ID"] == b"t" and headers["DLT_ATTEMPTS"] == b"5"
    assert headers["DLT_ORIGINAL_PARTITION"] == b"2" and headers["DLT_ERROR_CLASS"] == b"KeyError"


def test_retry_policy_is_read_from_the_spec_shape() -> None:
    """retry: {attempts, initial, max} becomes a RetryPolicy; unknown keys are refused."""
    assert retry_policy({"attempts": 5, "initial": 0.1, "max": 10}) == RetryPolicy(5, 0.1, 10.0)
    with pytest.raises(ConfigurationError, match="tries"):
        retry_policy({"tries": 5})


async def test_producer_fails_closed_without_a_tenant_and_adds_headers_with_one() -> None:
    """emit() without a tenant raises NoTenantError; with one it adds tenant, trace and event id."""
    broker = MemoryBroker()
    producer = Producer(MemoryProducerBackend(broker), {"EVT": "events"})
    producer.declare("EVT", CamelEnvelope, key="transaction_id")
    envelope = {"type": "X", "body": {}, "transaction_id": "t9"}
    with pytest.raises(NoTenantError):
        await producer.emit("EVT", envelope)
    trace = TraceContext.new()
    with as_tenant(TENANT), bind_trace(trace):
        await producer.emit("EVT", envelope)
    [record] = broker.records("events")
    headers = dict(record.headers)
    assert record.key == b"t9"
    assert Tenant.from_kafka_headers(record.headers) == TENANT
    assert headers["traceparent"].decode().split("-")[1] == trace.trace_id
    assert len(headers["EVENT_ID"]) == 32
    with pytest.raises(ConfigurationError, match="unknown topic token"):
        producer.build("NOPE", envelope)


def test_public_names_are_exported() -> None:
    """Every name in __all__ exists in atlas_runtime.messaging."""
    assert all(hasattr(messaging, name) for name in messaging.__all__)
    assert sorted(messaging.__all__) == sorted(set(messaging.__all__))
