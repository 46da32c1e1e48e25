"""A consumer process of the crash test: counts messages per key through the exactly-once path.

Run as a script with CRASH_TOPIC, CRASH_GROUP, CRASH_PREFIX, BOOTSTRAP_SERVERS and
REDIS_URL set (and CRASH_HANDLER_DELAY, seconds per message, to pace the work so kills land
mid-run); it consumes until killed. The per-key counter is bumped only through the
Redis inbox's commit (one MULTI/EXEC with the processed-message marker). Every delivery
that reaches the inbox also bumps `<prefix>:deliveries` at once (outside the
transaction), so the test can count redeliveries.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from atlas_runtime.messaging import Inbox, InboxScope, MessageContext, Messaging, MessagingSettings, Outcome
from atlas_runtime.messaging._inbox import Handler


class Count(BaseModel):
    type: str
    body: dict[str, Any]
    key: str


class CountingInbox:
    """Counts deliveries, then defers to the real inbox."""

    def __init__(self, inner: Inbox, redis: Redis, key: str) -> None:
        self._inner = inner
        self._redis = redis
        self._key = key

    async def process(self, scope: InboxScope, message_id: str | None, handler: Handler) -> Outcome:
        await self._redis.incr(self._key)
        return await self._inner.process(scope, message_id, handler)

    async def close(self) -> None:
        await self._inner.close()


async def main() -> None:
    prefix = os.environ["CRASH_PREFIX"]
    settings = MessagingSettings(
        service=f"{prefix}-svc",
        topics={"COUNT": os.environ["CRASH_TOPIC"]},
        consumer_group=os.environ["CRASH_GROUP"],
        bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","),
        redis_url=os.environ["REDIS_URL"],
        kafka_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
    )
    messaging = Messaging(settings, key_prefix=prefix)
    redis = Redis.from_url(os.environ["REDIS_URL"])
    messaging.inbox = CountingInbox(messaging.inbox, redis, f"{prefix}:deliveries")

    delay = float(os.environ.get("CRASH_HANDLER_DELAY", "0"))

    async def count(ctx: MessageContext, message: Count) -> None:
        await asyncio.sleep(delay)
        ctx.unit.incr(f"{prefix}:count:{message.key}")

    consumer = messaging.consumer(commit_interval=0.5)
    consumer.subscribe("COUNT", Count, {"COUNT": count})
    await messaging.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    asyncio.run(main())
