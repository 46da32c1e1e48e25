"""Kafka message envelopes under `messages:`, discriminated by `type`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ._base import SpecModel
from .fields import Fields
from .names import MessageType


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


class MessageSpec(SpecModel):
    """An envelope: fields shared by every type, and per type the fields of `body`.

    On the wire: `{"type": ..., "body": {...}, <envelope fields>}`.
    """

    fields: Fields = Field(default_factory=dict)
    types: Annotated[dict[MessageType, Fields], BeforeValidator(_none_as_empty), Field(min_length=1)]
    description: str | None = None
