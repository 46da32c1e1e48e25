"""The producer every service emits through, over a pluggable backend.

`Producer.emit(token, envelope, key=...)` resolves the topic token, encodes the envelope,
keys it by the spec's `key` field, adds the tenant headers (fails closed without a
tenant), the W3C trace context and an `EVENT_ID`, and returns only once the broker
confirmed delivery. Failed deliveries are retried with backoff (`KAFKA_PRODUCE`);
cancelling the caller stops the wait.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from atlas_runtime.errors import BackendUnavailable, ConfigurationError
from atlas_runtime.messaging._codec import EnvelopeCodec, EnvelopeType, envelope_field, key_bytes
from atlas_runtime.messaging._context import Envelope
from atlas_runtime.messaging._errors import DeliveryFailed
from atlas_runtime.messaging._records import EVENT_ID, OutboundMessage
from atlas_runtime.messaging._trace import outgoing_trace_headers
from atlas_runtime.retry import KAFKA_PRODUCE, RetryPolicy, call_with_retry
from atlas_runtime.tenant import current_tenant


class ProducerBackend(Protocol):
    """Sends encoded messages to a broker; one module per implementation."""

    async def start(self) -> None:
        """Connect (idempotent)."""

    async def send(self, message: OutboundMessage) -> None:
        """Send one message; return when the broker confirmed it, raise `DeliveryFailed` otherwise."""

    async def close(self) -> None:
        """Deliver what is queued (bounded), then disconnect."""

    async def ping(self) -> None:
        """Raise `BackendUnavailable` unless the broker answers now (readiness)."""


@dataclass(frozen=True, slots=True)
class Publication:
    """How a topic token is produced: its envelope type and the envelope field used as key."""

    codec: EnvelopeCodec
    key: str | None = None


class Producer:
    """Emits envelopes on topic tokens.

    Args:
        backend: the broker client.
        topics: topic token -> real topic name.
        retry: the policy for failed deliveries.
    """

    def __init__(
        self, backend: ProducerBackend, topics: Mapping[str, str], *, retry: RetryPolicy = KAFKA_PRODUCE
    ) -> None:
        self.backend = backend
        self._topics = dict(topics)
        self._publications: dict[str, Publication] = {}
        self._retry = retry

    def declare(self, token: str, message: EnvelopeType | None = None, *, key: str | None = None) -> None:
        """Declare what `token` carries (from the spec's `produces`): envelope type and key field."""
        self._topic(token)
        self._publications[token] = Publication(EnvelopeCodec(message), key)

    def _topic(self, token: str) -> str:
        try:
            return self._topics[token]
        except KeyError:
            known = ", ".join(sorted(self._topics)) or "none"
            raise ConfigurationError(f"unknown topic token {token!r}; declared tokens: {known}") from None

    def build(self, token: str, envelope: Envelope, *, key: object = None) -> OutboundMessage:
        """Encode `envelope` for `token` with key, tenant, trace and event-id headers."""
        topic = self._topic(token)
        publication = self._publications.get(token) or Publication(EnvelopeCodec(None))
        value = publication.codec.encode(envelope)
        if key is None and publication.key is not None:
            key = envelope_field(envelope, publication.key)
        headers = [
            *current_tenant().kafka_headers(),
            *outgoing_trace_headers(),
            (EVENT_ID, uuid.uuid4().hex.encode()),
        ]
        return OutboundMessage(topic=topic, key=key_bytes(key), value=value, headers=headers)

    async def emit(self, token: str, envelope: Envelope, *, key: object = None) -> None:
        """Publish `envelope` on the topic of `token` and wait for the broker's confirmation.

        Args:
            token: a topic token declared under `produces`.
            envelope: the envelope model, or a dict validated against it.
            key: the Kafka key; by default the envelope field declared as `key`.

        Raises:
            NoTenantError: no tenant is bound in the current context.
            DeliveryFailed: every delivery attempt failed.
        """
        await self.send(self.build(token, envelope, key=key))

    async def send(self, message: OutboundMessage) -> None:
        """Send an already encoded message, retrying failed deliveries with backoff."""
        await call_with_retry(
            self._retry,
            lambda: self.backend.send(message),
            (DeliveryFailed, BackendUnavailable, BufferError),
            name=f"produce to {message.topic}",
        )

    async def start(self) -> None:
        await self.backend.start()

    async def ping(self) -> None:
        """Raise `BackendUnavailable` unless the broker answers now."""
        await self.backend.ping()

    async def close(self) -> None:
        await self.backend.close()
