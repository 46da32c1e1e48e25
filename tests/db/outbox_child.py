"""A service process for the crash test: commits an event, then dies or drains, as told.

python outbox_child.py commit-then-die TOPIC BOOTSTRAP   # killed inside publish
python outbox_child.py drain TOPIC BOOTSTRAP             # publishes the backlog, exits 0

The database comes from the `DB_*` environment, read as a service reads it; the test
passes the server of `scripts/services env` with the test's own database as `DB_NAME`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Sequence

from atlas_runtime.db import (
    Database,
    DrainerOptions,
    KafkaPublisher,
    OutboxDrainer,
    OutgoingMessage,
    PublishError,
    enqueue,
    load_settings,
)
from atlas_runtime.tenant import Tenant

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)


class DieOnPublish:
    """Stands for a crash after the commit and before anything reaches Kafka."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> list[PublishError | None]:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


async def main(mode: str, topic: str, bootstrap: str) -> None:
    db = await Database.connect("crashtest", settings=load_settings())
    options = DrainerOptions(poll_interval=0.05)
    if mode == "commit-then-die":
        async with db.tenant_session(TENANT) as session:
            await enqueue(session, topic, "character-1", b"level-up")
        await OutboxDrainer(db.engine, DieOnPublish(), service="crashtest", options=options).run()
    else:
        drainer = OutboxDrainer(db.engine, KafkaPublisher(bootstrap), service="crashtest", options=options)
        task = asyncio.create_task(drainer.run())
        while await drainer.backlog() > 0:
            await asyncio.sleep(0.05)
        drainer.stop()
        await task
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
