"""Periodic tasks under `tasks:`."""

from __future__ import annotations

from ._base import SpecModel
from .durations import Duration
from .names import HandlerRef


class TaskSpec(SpecModel):
    """A task run every `every`, once per tenant that has state in the service.

    Attributes:
        every: the period.
        handler: `module:function`, `async def f(ctx) -> None`.
        leader_only: run on one replica only (default false: on every replica).
    """

    every: Duration
    handler: HandlerRef
    leader_only: bool = False
    description: str | None = None
