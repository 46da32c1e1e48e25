"""The retry policy: full-jitter backoff, bounded attempts, the last error kept."""

from __future__ import annotations

import asyncio

import pytest

from atlas_runtime.retry import DB_CONNECT, KAFKA_FETCH, REST, RetryPolicy, call_with_retry

FAST = RetryPolicy(attempts=4, initial=0.001, max_delay=0.004)


def test_backoff_is_full_jitter_under_a_capped_ceiling() -> None:
    """Each sleep lies between 0 and min(max, initial * 2**(n-1))."""
    assert [DB_CONNECT.ceiling(n) for n in (1, 2, 7, 8)] == [0.5, 1.0, 30.0, 30.0]
    sleeps = [DB_CONNECT.backoff(3) for _ in range(2000)]
    assert all(0 <= s <= 2.0 for s in sleeps)
    assert min(sleeps) < 0.2 and max(sleeps) > 1.8


@pytest.mark.parametrize(
    ("policy", "retries", "initial", "max_delay"),
    [(KAFKA_FETCH, 10, 0.1, 10.0), (DB_CONNECT, 10, 0.5, 30.0)],
    ids=["kafka-fetch", "db-connect"],
)
async def test_presets_retry_as_the_contract_says(
    policy: RetryPolicy, retries: int, initial: float, max_delay: float
) -> None:
    """Kafka fetch retries 10 times from 100 ms to 10 s, a database connect 10 times from 500 ms to 30 s."""
    assert (policy.initial, policy.max_delay, policy.factor) == (initial, max_delay, 2.0)
    assert policy.ceiling(1) == initial and policy.ceiling(retries) == max_delay
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await call_with_retry(policy.with_(initial=0.0, max_delay=0.0), down)  # the preset's count, no sleeps
    assert calls == 1 + retries


def test_rest_preset_backs_off_from_200_ms_to_5_s() -> None:
    """REST calls back off from 200 ms, doubling, capped at 5 s, within a 30 s total."""
    assert [REST.ceiling(n) for n in range(1, 8)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0])
    assert REST.deadline == 30.0


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
