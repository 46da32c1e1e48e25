"""Kafka messaging of the runtime: at-least-once consumption, exactly-once effects.

A service builds one `Messaging` from its settings, subscribes its handlers on a
`Consumer` and emits through `Producer.emit`; see `docs/messaging.md` for the exact
guarantees. Without `BOOTSTRAP_SERVERS` the in-process bus stands in for Kafka.
"""

from __future__ import annotations

from atlas_runtime.messaging._codec import EnvelopeCodec, EnvelopeType
from atlas_runtime.messaging._config import MessagingSettings, resolve_consumer_group, resolve_topics
from atlas_runtime.messaging._consumer import Consumer, retry_policy
from atlas_runtime.messaging._context import ContextFactory, MessageContext, MessageHandler
from atlas_runtime.messaging._dispatch import DEFAULT_RETRY, Subscription, dead_letter_message
from atlas_runtime.messaging._engine import ConsumerEngine, ConsumerSource, RebalanceListener
from atlas_runtime.messaging._errors import DeliveryFailed, MessageDecodeError, UnitConflict
from atlas_runtime.messaging._inbox import Inbox, InboxScope, Outcome, Unit
from atlas_runtime.messaging._kafka_consumer import KafkaSource
from atlas_runtime.messaging._kafka_producer import KafkaProducerBackend
from atlas_runtime.messaging._memory import MemoryBroker, MemoryProducerBackend, MemorySource, partition_for
from atlas_runtime.messaging._memory_inbox import MemoryInbox, MemoryStore
from atlas_runtime.messaging._messaging import Messaging, default_broker, default_store
from atlas_runtime.messaging._outbox import OutboxRelay
from atlas_runtime.messaging._producer import Producer, ProducerBackend
from atlas_runtime.messaging._records import DLT_SUFFIX, EVENT_ID, OutboundMessage, Record, TopicPartition
from atlas_runtime.messaging._redis_inbox import RedisInbox
from atlas_runtime.messaging._state_inbox import StateInbox, StateOutboxRelay
from atlas_runtime.messaging._trace import TraceContext, bind_trace, current_trace
from atlas_runtime.messaging._tracker import OffsetTracker

__all__ = [
    "DEFAULT_RETRY",
    "DLT_SUFFIX",
    "EVENT_ID",
    "Consumer",
    "ConsumerEngine",
    "ConsumerSource",
    "ContextFactory",
    "DeliveryFailed",
    "EnvelopeCodec",
    "EnvelopeType",
    "Inbox",
    "InboxScope",
    "KafkaProducerBackend",
    "KafkaSource",
    "MemoryBroker",
    "MemoryInbox",
    "MemoryProducerBackend",
    "MemorySource",
    "MemoryStore",
    "MessageContext",
    "MessageDecodeError",
    "MessageHandler",
    "Messaging",
    "MessagingSettings",
    "OffsetTracker",
    "OutboundMessage",
    "OutboxRelay",
    "Outcome",
    "Producer",
    "ProducerBackend",
    "RebalanceListener",
    "Record",
    "RedisInbox",
    "StateInbox",
    "StateOutboxRelay",
    "Subscription",
    "TopicPartition",
    "TraceContext",
    "Unit",
    "UnitConflict",
    "bind_trace",
    "current_trace",
    "dead_letter_message",
    "default_broker",
    "default_store",
    "partition_for",
    "resolve_consumer_group",
    "resolve_topics",
    "retry_policy",
]
