"""Distributed locks under `locks:`: one lock per key, chosen at call time."""

from __future__ import annotations

from datetime import timedelta

from ._base import SpecModel
from .durations import Duration


class LockSpec(SpecModel):
    """A named lock.

    Attributes:
        ttl: the lease; renewed while a holder keeps running.
        wait: how long `ctx.locks.<name>(key)` waits before raising a timeout error.
    """

    ttl: Duration = timedelta(seconds=10)
    wait: Duration = timedelta(seconds=5)
    description: str | None = None
