"""What a message handler receives: the tenant, the message coordinates and staged effects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from pydantic import BaseModel

from atlas_runtime.messaging._inbox import Unit
from atlas_runtime.messaging._records import OutboundMessage, Record
from atlas_runtime.tenant import Tenant

Envelope = BaseModel | Mapping[str, Any]


class MessageBuilder(Protocol):
    """Turns `(token, envelope, key)` into an outbound message with tenant and trace headers."""

    def build(self, token: str, envelope: Envelope, *, key: object = None) -> OutboundMessage: ...


class MessageContext:
    """The context of one handler run.

    Attributes:
        tenant: the tenant from the message headers (also bound as `current_tenant()`).
        record: the raw record (topic, partition, offset, key, value, headers).
        attempt: 1 for the first run, counting retries after failures.
        unit: staged effects, committed atomically with the inbox marker.
        group: the consumer group.
        message_id: the inbox id of the message (None when the subscription is not idempotent).
        log: a logger carrying topic, partition, offset and tenant.
    """

    __slots__ = ("_builder", "_log", "attempt", "group", "message_id", "record", "tenant", "unit")

    def __init__(
        self,
        tenant: Tenant,
        record: Record,
        attempt: int,
        unit: Unit,
        builder: MessageBuilder,
        group: str = "",
        message_id: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.record = record
        self.attempt = attempt
        self.unit = unit
        self.group = group
        self.message_id = message_id
        self._builder = builder
        self._log: logging.LoggerAdapter[logging.Logger] | None = None

    @property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        if self._log is None:  # built on first use: most handlers never log
            extra = {
                "topic": self.record.topic,
                "partition": self.record.partition,
                "offset": self.record.offset,
                "tenant": self.tenant.key,
            }
            self._log = logging.LoggerAdapter(logging.getLogger("atlas_runtime.messaging.handler"), extra)
        return self._log

    async def emit(self, token: str, message: Envelope, *, key: object = None) -> None:
        """Publish `message` on the topic of `token` if, and only if, this handler run commits.

        Args:
            token: a topic token declared under `produces`.
            message: the envelope model, or a dict validated against it.
            key: the Kafka key; by default the envelope field the spec names as `key`.
        """
        self.unit.emit(self._builder.build(token, message, key=key))


MessageHandler = Callable[[Any, Any], Awaitable[None]]
ContextFactory = Callable[[MessageContext], Any]
