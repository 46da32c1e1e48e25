"""Consumed topics under `consumes:`: topic token -> message, handlers, delivery policy."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, PositiveInt

from ._base import SpecModel
from .durations import Duration
from .names import FieldName, HandlerRef, LockName, MessageName, MessageType


class RetrySpec(SpecModel):
    """Retries of a failed handler: exponential backoff with full jitter."""

    attempts: PositiveInt = 5
    initial: Duration = timedelta(milliseconds=100)
    max: Duration = timedelta(seconds=10)


class ConsumeLockSpec(SpecModel):
    """Hold a declared lock, keyed by an envelope field, while the handler runs."""

    name: LockName
    key: FieldName


class ConsumeSpec(SpecModel):
    """A topic this service consumes.

    Attributes:
        message: the envelope declared under `messages:`.
        handlers: per message type, the handler (`module:function`); unlisted types
            are acknowledged and skipped.
        dedupe: the envelope field keying the inbox; default topic/partition/offset.
        retry: attempts and backoff before dead-lettering.
        dead_letter: send to `<topic>.DLT` after the last attempt (default true).
        lock: an optional lock held around each handler call.
    """

    message: MessageName
    handlers: dict[MessageType, HandlerRef] = Field(default_factory=dict)
    dedupe: FieldName | None = None
    retry: RetrySpec = Field(default_factory=RetrySpec)
    dead_letter: bool = True
    lock: ConsumeLockSpec | None = None
    description: str | None = None
