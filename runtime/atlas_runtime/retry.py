"""One retry policy for the whole runtime, on tenacity.

Exponential backoff with full jitter: before attempt n+1 the caller sleeps a
uniform random time in [0, min(max, initial * factor**(n-1))]. The last error is
re-raised as itself (never wrapped in `RetryError`), and cancellation is never
retried: `asyncio.CancelledError` is a `BaseException`, which tenacity lets through.

Presets follow the runtime contract (section 10): Kafka fetch (10 retries, 100 ms
-> 10 s), Kafka produce, REST calls (200 ms -> 5 s) and database connects (10 retries,
500 ms -> 30 s).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)
from tenacity.stop import stop_base

T = TypeVar("T")

log = logging.getLogger("atlas_runtime.retry")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry.

    Args:
        attempts: total attempts, the first included.
        initial: ceiling of the first backoff, seconds.
        max_delay: cap of any backoff, seconds.
        factor: growth of the ceiling per attempt.
        deadline: optional cap, seconds, on the time from the first attempt to the
            start of the last one.
    """

    attempts: int
    initial: float
    max_delay: float
    factor: float = 2.0
    deadline: float | None = None

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the sleep after failed attempt number `attempt` (from 1)."""
        return min(self.max_delay, self.initial * self.factor ** (attempt - 1))

    def backoff(self, attempt: int) -> float:
        """Full-jitter sleep after failed attempt number `attempt` (from 1)."""
        return random.uniform(0, self.ceiling(attempt))

    def with_(self, **changes: float | int | None) -> RetryPolicy:
        return replace(self, **changes)  # type: ignore[arg-type]


# The contract counts retries; `attempts` counts the first try too: "10 retries" is 11 attempts.
KAFKA_FETCH = RetryPolicy(attempts=11, initial=0.1, max_delay=10.0)
KAFKA_PRODUCE = RetryPolicy(attempts=10, initial=0.1, max_delay=10.0)
REST = RetryPolicy(attempts=5, initial=0.2, max_delay=5.0, deadline=30.0)
DB_CONNECT = RetryPolicy(attempts=11, initial=0.5, max_delay=30.0)


def retrying(
    policy: RetryPolicy,
    retry_on: Callable[[BaseException], bool] | tuple[type[BaseException], ...] = (Exception,),
    *,
    name: str = "operation",
) -> AsyncRetrying:
    """A tenacity `AsyncRetrying` for `policy`; use as `async for attempt in ...: with attempt:`."""
    predicate = retry_on if callable(retry_on) else _is_instance(retry_on)
    stop: stop_base = stop_after_attempt(policy.attempts)
    if policy.deadline is not None:
        stop = stop | stop_before_delay(policy.deadline)

    def wait(state: RetryCallState) -> float:
        return policy.backoff(state.attempt_number)

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s failed (attempt %d of %d), retrying in %.2fs: %r",
            name,
            state.attempt_number,
            policy.attempts,
            state.next_action.sleep if state.next_action else 0.0,
            error,
        )

    return AsyncRetrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception(predicate),
        reraise=True,
        before_sleep=before_sleep,
    )


async def call_with_retry(
    policy: RetryPolicy,
    fn: Callable[[], Awaitable[T]],
    retry_on: Callable[[BaseException], bool] | tuple[type[BaseException], ...] = (Exception,),
    *,
    name: str = "operation",
) -> T:
    """Await `fn()` until it succeeds or `policy` gives up; the last error propagates."""
    async for attempt in retrying(policy, retry_on, name=name):
        with attempt:
            return await fn()
    raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover


def _is_instance(types: tuple[type[BaseException], ...]) -> Callable[[BaseException], bool]:
    return lambda error: isinstance(error, types)
