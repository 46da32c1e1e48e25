"""Stopping background tasks without swallowing the caller's own cancellation."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has really finished.

    If the caller is cancelled meanwhile, it still waits for `task` to end (so work
    never outlives its lease), then re-raises its own cancellation instead of
    swallowing it. The task's own exception, if any, is retrieved and dropped.
    """
    task.cancel()
    caller_cancelled = False
    if (current := asyncio.current_task()) is not None and current.cancelling():
        caller_cancelled = True
    while not task.done():
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            caller_cancelled = True
    if not task.cancelled():
        task.exception()
    if caller_cancelled:
        raise asyncio.CancelledError


def raise_if_cancelling() -> None:
    """Re-raise a cancellation of the current task that a library swallowed.

    On Python 3.11 `asyncio.wait_for` (used by redis-py to send commands) can swallow
    a cancellation that arrives just as the wrapped call finishes (CPython gh-86296,
    fixed in 3.12). The task still reports `cancelling()`, so loops that must stop
    when cancelled check it after each backend call.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
