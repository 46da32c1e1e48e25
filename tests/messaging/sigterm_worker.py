"""A consuming service for the SIGTERM test, run the way a generated service runs: `serve(SERVICE)`.

Run as a script with SIGTERM_SERVICE, SIGTERM_TOPIC and SIGTERM_PREFIX set, plus the
service's own settings (REDIS_URL, BOOTSTRAP_SERVERS, KAFKA_CONSUMER_GROUP, REST_PORT,
AUTH_MODE, REST_SHUTDOWN_GRACE). It serves until SIGTERM; the runtime's shutdown path then
stops its consumer. The handler holds each message for `body.hold` seconds (a negative
value: until cancelled) and records `partition:offset` in the Redis lists
`<prefix>:started`, `<prefix>:finished` and `<prefix>:cancelled` at once, outside the
message's unit of work, so the test sees what ran even when the process is gone.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from pydantic import BaseModel, TypeAdapter
from redis.asyncio import Redis

from atlas_runtime.service import ConsumeDecl, ServiceDescription, ServiceSettings
from atlas_runtime.service.launcher import serve

TOKEN = "COMMAND_TOPIC_SIGTERM"


class Hold(BaseModel):
    """The test topic's envelope."""

    type: str
    body: dict[str, float]
    key: str


_redis: Redis | None = None


async def _record(kind: str, ctx: Any) -> None:
    """Append the message's `partition:offset` to `<prefix>:<kind>`."""
    global _redis
    if _redis is None:
        _redis = Redis.from_url(os.environ["REDIS_URL"])
    await _redis.rpush(
        f"{os.environ['SIGTERM_PREFIX']}:{kind}", f"{ctx.record.partition}:{ctx.record.offset}"
    )


async def handle(ctx: Any, message: Hold) -> None:
    """Hold the message for `body.hold` seconds (forever when negative), recording start and end."""
    await _record("started", ctx)
    hold = message.body["hold"]
    try:
        await (asyncio.Event().wait() if hold < 0 else asyncio.sleep(hold))
    except asyncio.CancelledError:
        await _record("cancelled", ctx)
        raise
    await _record("finished", ctx)


SERVICE = ServiceDescription(
    name=os.environ.get("SIGTERM_SERVICE", "sigterm-test"),
    settings=ServiceSettings,
    consumes=(ConsumeDecl(token=TOKEN, message=TypeAdapter(Hold), handlers={"HOLD": "__main__:handle"}),),
)


if __name__ == "__main__":
    os.environ[TOKEN] = os.environ["SIGTERM_TOPIC"]
    serve(SERVICE)
