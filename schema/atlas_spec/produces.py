"""Produced topics under `produces:`: topic token -> message, key, delivery path."""

from __future__ import annotations

from typing import Literal

from ._base import SpecModel
from .names import FieldName, MessageName


class ProduceSpec(SpecModel):
    """A topic this service produces.

    Attributes:
        message: the envelope declared under `messages:`.
        key: the envelope field used as the Kafka key.
        via: `direct` (the producer) or `outbox` (a row in the same database
            transaction, drained to Kafka; needs `database:`).
    """

    message: MessageName
    key: FieldName | None = None
    via: Literal["direct", "outbox"] = "direct"
    description: str | None = None
