"""The outbound client against a real upstream on loopback: timeouts, retries, cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from pydantic import BaseModel

from atlas_runtime.http import (
    ClientSettings,
    ServiceClient,
    ServiceNotFound,
    ServiceServerError,
    ServiceTimeout,
    ServiceUnavailable,
    ServiceUnreachable,
)
from atlas_runtime.retry import REST

from .conftest import Upstream


class Thing(BaseModel):
    id: int
    name: str


@asynccontextmanager
async def client_of(
    upstream: Upstream, *, timeout: float = 2.0, deadline: float = 5.0, attempts: int = 5
) -> AsyncIterator[ServiceClient]:
    settings = ClientSettings(timeout=timeout, deadline=deadline)
    policy = REST.with_(attempts=attempts, initial=0.05, max_delay=0.2, deadline=None)
    async with ServiceClient("upstream", base_url=upstream.url, settings=settings, retry=policy) as client:
        yield client


async def timed(coro: object) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await coro  # type: ignore[misc]
    except Exception as error:
        return time.monotonic() - started, error
    return time.monotonic() - started, None


async def test_hanging_upstream_ends_at_the_attempt_timeout(upstream: Upstream) -> None:
    """A request to a server that never answers ends after the per-attempt timeout."""
    async with client_of(upstream, timeout=0.3, attempts=1) as client:
        elapsed, error = await timed(client.request("GET", "hang"))
    assert isinstance(error, ServiceTimeout)
    assert "attempt timeout of 0.3s" in str(error)  # not mistaken for the call's deadline
    assert 0.28 <= elapsed < 1.0
    assert upstream.count("hang") == 1


async def test_per_call_timeout_overrides_the_default(upstream: Upstream) -> None:
    """A per-call timeout replaces HTTP_CLIENT_TIMEOUT for that call."""
    async with client_of(upstream, timeout=5.0, attempts=1) as client:
        elapsed, error = await timed(client.request("GET", "hang", timeout=0.2))
    assert isinstance(error, ServiceTimeout)
    assert 0.18 <= elapsed < 1.0


async def test_slow_drip_is_cut_at_the_attempt_timeout(upstream: Upstream) -> None:
    """A response that trickles bytes (never idle long enough for a read timeout) still ends on time."""
    async with client_of(upstream, timeout=0.4, attempts=1) as client:
        elapsed, error = await timed(client.request("GET", "drip"))
    assert isinstance(error, ServiceTimeout)
    assert 0.38 <= elapsed < 1.2


async def test_absolute_deadline_holds_across_retries(upstream: Upstream) -> None:
    """The absolute deadline cuts the attempt running when it passes, not only the next retry.

    Attempts time out after 1.6 s and the deadline is 2.4 s, so the second attempt starts at
    about 1.6 s and still hangs when the deadline passes. Cut at the deadline, the call ends at
    2.4 s; were the deadline checked only between attempts, the second attempt would run to its
    own timeout and the call would end at 3.2 s. The bound sits between the two, with 0.8 s for
    the retry to start before the deadline.
    """
    async with client_of(upstream, timeout=1.6, deadline=2.4, attempts=10) as client:
        elapsed, error = await timed(client.request("GET", "hang"))
    assert isinstance(error, ServiceTimeout)
    assert "deadline of 2.4s" in str(error)
    assert 2.35 <= elapsed < 2.8
    assert upstream.count("hang") == 2  # the deadline fell inside the second attempt


async def test_retry_after_is_honoured(upstream: Upstream) -> None:
    """A 503 with `Retry-After: 1` is retried no sooner than one second later, then succeeds."""
    upstream.script["a"] = [(503, {"Retry-After": "1"})]
    async with client_of(upstream) as client:
        thing = await client.get_one("scripted/a", Thing)
    assert thing == Thing(id=1, name="a")
    first, second = upstream.calls["a"]
    assert 0.95 <= second - first < 1.6


async def test_retry_after_past_the_deadline_gives_up_at_once(upstream: Upstream) -> None:
    """A `Retry-After` longer than the time left ends the call with the 503 instead of waiting."""
    upstream.script["b"] = [(503, {"Retry-After": "30"})]
    async with client_of(upstream, deadline=2.0) as client:
        elapsed, error = await timed(client.request("GET", "scripted/b"))
    assert isinstance(error, ServiceUnavailable)
    assert error.errors[0]["detail"] == "scripted 503"
    assert elapsed < 0.5


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_transient_statuses_are_retried_for_get(upstream: Upstream, status: int) -> None:
    """GET is retried after 502, 503 and 504."""
    upstream.script["c"] = [(status, {}), (status, {})]
    async with client_of(upstream) as client:
        response = await client.request("GET", "scripted/c")
    assert response.status_code == 200
    assert upstream.count("c") == 3


async def test_500_is_not_retried(upstream: Upstream) -> None:
    """A 500 is not transient: it is raised after one attempt."""
    upstream.script["d"] = [(500, {})]
    async with client_of(upstream) as client:
        with pytest.raises(ServiceServerError):
            await client.request("GET", "scripted/d")
    assert upstream.count("d") == 1


async def test_post_without_idempotency_key_is_not_retried(upstream: Upstream) -> None:
    """A POST that gets 503 is not sent again when it has no idempotency key."""
    upstream.script["e"] = [(503, {})]
    async with client_of(upstream) as client:
        with pytest.raises(ServiceUnavailable):
            await client.request("POST", "scripted/e", json={"data": {}})
    assert upstream.count("e") == 1


async def test_post_with_idempotency_key_is_retried(upstream: Upstream) -> None:
    """A POST carrying an idempotency key is retried after 503 with the same key."""
    upstream.script["f"] = [(503, {})]
    async with client_of(upstream) as client:
        created = await client.create("scripted/f", "things", {"name": "f"}, Thing, idempotency_key="k-1")
    assert created == Thing(id=1, name="f")
    assert upstream.count("f") == 2
    assert [h["idempotency-key"] for h in upstream.headers] == ["k-1", "k-1"]


async def test_post_to_hanging_upstream_is_not_retried(upstream: Upstream) -> None:
    """A POST whose attempt times out is not sent again (it may have been processed)."""
    async with client_of(upstream, timeout=0.2, deadline=3.0) as client:
        elapsed, error = await timed(client.request("POST", "hang", json={}))
    assert isinstance(error, ServiceTimeout)
    assert "attempt timeout of 0.2s" in str(error)
    assert elapsed < 1.0
    assert upstream.count("hang") == 1


async def test_unreachable_upstream_is_retried_then_raised() -> None:
    """Connection refusals are retried and end as ServiceUnreachable within the deadline."""
    settings = ClientSettings(timeout=0.5, deadline=2.0)
    policy = REST.with_(attempts=3, initial=0.05, max_delay=0.1)
    async with ServiceClient(
        "nobody", base_url="http://127.0.0.1:9/", settings=settings, retry=policy
    ) as client:
        elapsed, error = await timed(client.request("POST", "anything", json={}))
    assert isinstance(error, ServiceUnreachable)
    assert elapsed < 2.0


async def test_caller_cancellation_cancels_the_request(upstream: Upstream) -> None:
    """Cancelling the calling task closes the connection: the upstream sees the disconnect."""
    async with client_of(upstream, timeout=10.0, deadline=30.0) as client:
        call = asyncio.create_task(client.request("GET", "hang"))
        while upstream.count("hang") == 0:
            await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.wait_for(upstream.disconnected.wait(), timeout=2.0)
    assert upstream.count("hang") == 1


async def test_error_status_is_raised_with_jsonapi_errors(upstream: Upstream) -> None:
    """An error status raises the status's exception carrying the JSON:API error objects."""
    upstream.script["g"] = [(404, {})]
    async with client_of(upstream) as client:
        with pytest.raises(ServiceNotFound) as caught:
            await client.get_one("scripted/g", Thing)
    assert caught.value.status == 404
    assert caught.value.errors == [{"status": "404", "title": "scripted", "detail": "scripted 404"}]
