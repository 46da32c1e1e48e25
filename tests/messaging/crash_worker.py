"""A consumer process of the crash test: counts messages per key through the exactly-once path.

Run as a script with CRASH_TOPIC, CRASH_GROUP, CRASH_PREFIX, BOOTSTRAP_SERVERS and
REDIS_URL set (and CRASH_HANDLER_DELAY, seconds per message, to pace the work so kills land
mid-run); it consumes until killed. The inbox is the one generated services use: the state
store's, on Redis, committing runs of queued messages in one MULTI/EXEC with their markers.
The per-key counter is bumped only through that commit. Every handler run also bumps
`<prefix>:deliveries` at once (outside the transaction), so the test can count the runs
that a kill or a conflict made happen again.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis

from atlas_runtime.messaging import MessageContext, Messaging, MessagingSettings
from atlas_runtime.state import RedisBackend, StateStore


class Count(BaseModel):
    type: str
    body: dict[str, Any]
    key: str


async def main() -> None:
    prefix = os.environ["CRASH_PREFIX"]
    settings = MessagingSettings(
        service=f"{prefix}-svc",
        topics={"COUNT": os.environ["CRASH_TOPIC"]},
        consumer_group=os.environ["CRASH_GROUP"],
        bootstrap_servers=os.environ["BOOTSTRAP_SERVERS"].split(","),
        kafka_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 500},
    )
    state = StateStore(RedisBackend.from_url(os.environ["REDIS_URL"]), service="crash", prefix=prefix)
    messaging = Messaging(settings, state=state)
    redis = Redis.from_url(os.environ["REDIS_URL"])
    delay = float(os.environ.get("CRASH_HANDLER_DELAY", "0"))

    async def count(ctx: MessageContext, message: Count) -> None:
        await redis.incr(f"{prefix}:deliveries")
        await asyncio.sleep(delay)
        ctx.unit.incr(f"{prefix}:count:{message.key}")

    consumer = messaging.consumer(commit_interval=0.5)
    consumer.subscribe("COUNT", Count, {"COUNT": count})
    await messaging.start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(message)s")
    asyncio.run(main())
