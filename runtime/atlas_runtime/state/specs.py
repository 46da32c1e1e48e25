"""Declarations of registries, as generated code writes them: indexes, ids, scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Scope = Literal["tenant", "global"]
Seconds = float | timedelta

INT64_MAX = 2**63 - 1
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """A reverse lookup `value of field -> keys`; `field` may be dotted and may cross lists."""

    name: str
    field: str
    unique: bool = False


@dataclass(frozen=True, slots=True)
class IdSpec:
    """Auto-increment ids: the first id is `start`; past `maximum` `next_id` raises, never wraps."""

    start: int = 1
    maximum: int = INT64_MAX

    def __post_init__(self) -> None:
        if not 1 <= self.start <= self.maximum <= INT64_MAX:
            raise ValueError(
                f"ids need 1 <= start <= maximum <= 2**63-1, got start={self.start} maximum={self.maximum}"
            )


def to_ms(value: Seconds) -> int:
    """Seconds (or a timedelta) as whole milliseconds, at least 1."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return max(1, round(seconds * 1000))
