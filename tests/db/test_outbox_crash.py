"""Outbox durability across a process crash, with real processes, PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from atlas_runtime.db import Database, migrate, outbox_table, runtime_metadata
from atlas_runtime.tenant import Tenant

from .conftest import FAST_CONNECT, child_env, create_database, drop_database, settings_for
from .kafka_topics import message_count, new_topic, read_topic

pytestmark = [pytest.mark.postgres, pytest.mark.kafka, pytest.mark.slow]

CHILD = Path(__file__).with_name("outbox_child.py")


@pytest.fixture
def crash_db(db_env: dict[str, str]) -> Iterator[str]:
    name = create_database(db_env)
    yield name
    drop_database(db_env, name)


def run_child(mode: str, env: dict[str, str], topic: str, bootstrap: str) -> int:
    done = subprocess.run(
        [sys.executable, str(CHILD), mode, topic, bootstrap],
        env=env,
        timeout=60,
        capture_output=True,
    )
    assert done.returncode in (0, -signal.SIGKILL), done.stderr.decode()[-2000:]
    return done.returncode


async def pending_rows(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).where(outbox_table.c.sent_at.is_(None))) or 0)


async def test_event_committed_before_a_crash_is_delivered_after_restart(
    db_env: dict[str, str], crash_db: str, kafka_bootstrap: str
) -> None:
    """A process SIGKILLed between the commit and the publish delivers the event once it restarts."""
    db = await Database.connect("crashtest", settings=settings_for(db_env, crash_db), policy=FAST_CONNECT)
    try:
        await migrate(db.engine, runtime_metadata, include_runtime_tables=False)
        topic = new_topic(kafka_bootstrap)
        args = (child_env(db_env, crash_db), topic, kafka_bootstrap)

        crashed = await asyncio.to_thread(run_child, "commit-then-die", *args)
        assert crashed == -signal.SIGKILL
        assert await pending_rows(db) == 1
        assert message_count(kafka_bootstrap, topic) == 0

        restarted = await asyncio.to_thread(run_child, "drain", *args)
        assert restarted == 0
        assert await pending_rows(db) == 0
        assert message_count(kafka_bootstrap, topic) == 1
        [message] = read_topic(kafka_bootstrap, topic, 1)
        assert (message.key, message.value) == (b"character-1", b"level-up")
        assert Tenant.from_kafka_headers(list(message.headers.items())).region == "GMS"
    finally:
        await db.close()
