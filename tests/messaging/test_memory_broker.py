"""The in-process broker outlives event loops: a process may run several, one after the other."""

from __future__ import annotations

import asyncio

from atlas_runtime.messaging._engine import Offsets
from atlas_runtime.messaging._memory import MemoryBroker
from atlas_runtime.messaging._records import OutboundMessage, Record, TopicPartition


class _Listener:
    async def assigned(self, partitions: list[TopicPartition]) -> None:
        return None

    async def revoked(self, partitions: list[TopicPartition]) -> Offsets:
        return {}

    async def lost(self, partitions: list[TopicPartition]) -> None:
        return None


def test_a_fetch_in_a_new_loop_is_woken_by_an_append() -> None:
    """A fetch left waiting when one loop ended does not break fetches of the next loop."""
    broker = MemoryBroker()
    member = broker.join("group", ["topic"], _Listener())

    async def wait_empty() -> list[Record]:
        return await broker.fetch("group", member, batch=10, timeout=0.05)

    assert asyncio.run(wait_empty()) == []  # the first loop waits, then ends

    async def fetch_then_append() -> list[Record]:
        fetching = asyncio.create_task(broker.fetch("group", member, batch=10, timeout=5.0))
        await asyncio.sleep(0.05)
        await broker.append(OutboundMessage("topic", b"k", b"v", []))
        return await asyncio.wait_for(fetching, 2.0)

    records = asyncio.run(fetch_then_append())
    assert [record.value for record in records] == [b"v"]
