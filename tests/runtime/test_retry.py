"""The retry policy: full-jitter backoff, bounded attempts, the last error kept."""

from __future__ import annotations

import asyncio

import pytest

from atlas_runtime.retry import DB_CONNECT, RetryPolicy, call_with_retry

FAST = RetryPolicy(attempts=4, initial=0.001, max_delay=0.004)


def test_backoff_is_full_jitter_under_a_capped_ceiling() -> None:
    """Each sleep lies between 0 and min(max, initial * 2**(n-1))."""
    assert [DB_CONNECT.ceiling(n) for n in (1, 2, 7, 8)] == [0.5, 1.0, 30.0, 30.0]
    sleeps = [DB_CONNECT.backoff(3) for _ in range(2000)]
    assert all(0 <= s <= 2.0 for s in sleeps)
    assert min(sleeps) < 0.2 and max(sleeps) > 1.8


async def test_retries_until_success() -> None:
    """A call that fails twice then succeeds returns its result after three attempts."""
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("down")
        return "ok"

    assert await call_with_retry(FAST, flaky) == "ok"
    assert calls == 3


async def test_gives_up_with_the_last_error() -> None:
    """After the last attempt the original error propagates, not a wrapper."""
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"attempt {calls}")

    with pytest.raises(ConnectionError, match="attempt 4"):
        await call_with_retry(FAST, broken)


async def test_does_not_retry_other_errors() -> None:
    """Errors outside `retry_on` propagate at once."""
    calls = 0

    async def wrong() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        await call_with_retry(FAST, wrong, (ConnectionError,))
    assert calls == 1


async def test_cancellation_is_not_retried() -> None:
    """Cancelling the caller stops the retry loop during its backoff."""
    patient = RetryPolicy(attempts=10, initial=60.0, max_delay=60.0)
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    task = asyncio.create_task(call_with_retry(patient, failing))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=1.0)
    assert 1 <= calls <= 2  # the jittered sleep may, rarely, end before the cancel
