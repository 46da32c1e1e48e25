"""Plain values that travel through the messaging runtime: records in, messages out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

Headers = list[tuple[str, bytes]]

DLT_SUFFIX = ".DLT"
EVENT_ID = "EVENT_ID"


class TopicPartition(NamedTuple):
    """One partition of one topic."""

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]"


@dataclass(slots=True)
class Record:
    """A message as fetched from a topic: coordinates, key, value and headers (treat as read-only)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)

    @property
    def tp(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @property
    def coordinates(self) -> str:
        """`topic[partition]@offset`, for logs and default message ids."""
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def header(self, name: str) -> bytes | None:
        """The last value of header `name`, or None."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message ready to be produced: topic name, key, encoded value and headers."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Headers = field(default_factory=list)


def normalize_headers(raw: object) -> Headers:
    """Headers as a list of `(str, bytes)` pairs, whatever shape the client returned."""
    if not raw:
        return []
    if type(raw) is list and all(type(value) is bytes for _, value in raw):
        return raw  # what confluent-kafka returns: no copy on the hot path
    pairs = raw.items() if isinstance(raw, dict) else raw
    out: Headers = []
    for name, value in pairs:  # type: ignore[attr-defined]
        if value is None:
            out.append((str(name), b""))
        else:
            out.append((str(name), value.encode() if isinstance(value, str) else bytes(value)))
    return out
