"""Errors of the messaging runtime, under the runtime's `AtlasError` root.

AtlasError
├── MessageDecodeError (ValueError)   a value is not a valid envelope; dead-lettered at once
├── DeliveryFailed (ConnectionError)  the broker did not confirm a produced message in time
└── UnitConflict                      a watched key changed before commit; the handler is re-run
"""

from __future__ import annotations

from atlas_runtime.errors import AtlasError


class MessageDecodeError(AtlasError, ValueError):
    """A message value is not JSON of a valid envelope.

    Attributes:
        message_type: the `type` the value claims, when it has one.
    """

    def __init__(self, reason: str, *, message_type: str | None = None) -> None:
        self.message_type = message_type
        super().__init__(reason)


class DeliveryFailed(AtlasError, ConnectionError):
    """The broker did not confirm a produced message."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"message to topic {topic!r} was not delivered: {reason}")


class UnitConflict(AtlasError):
    """A key read by the handler changed before its writes committed; the handler runs again."""
