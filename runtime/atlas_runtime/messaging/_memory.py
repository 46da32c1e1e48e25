"""The in-process bus: topics, partitions, consumer groups and offsets in memory.

The embedded stand-in for Kafka when `BOOTSTRAP_SERVERS` is unset, behind the same
`ConsumerSource` and `ProducerBackend` interfaces, so the engine, retries, dead letters
and inbox are the very same code. Keys are partitioned with Kafka's murmur2 (a key lands
on the partition the Java client would pick). Group rebalances are eager and
stop-the-world: members give up their partitions (committing finished offsets) before
anyone starts on the new assignment. Nothing survives the process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field

from atlas_runtime.messaging._engine import Offsets, RebalanceListener
from atlas_runtime.messaging._records import OutboundMessage, Record, TopicPartition

log = logging.getLogger("atlas_runtime.messaging.memory")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (the Java client's `Utils.murmur2`), as an unsigned 32-bit value."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = length - length % 4
    rest = length % 4
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition of `key`, as Kafka's default (murmur2) partitioner picks it."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class _Member:
    topics: list[str]
    listener: RebalanceListener
    owned: list[TopicPartition] = field(default_factory=list)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    paused: set[TopicPartition] = field(default_factory=set)
    generation: int = -1
    assigned: bool = False


@dataclass
class _Group:
    members: dict[int, _Member] = field(default_factory=dict)
    generation: int = 0
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class MemoryBroker:
    """Topics and consumer groups of one process.

    Args:
        default_partitions: partitions of a topic created on first use.
    """

    def __init__(self, default_partitions: int = 1) -> None:
        self._default_partitions = default_partitions
        self.topics: dict[str, list[list[Record]]] = {}
        self._groups: dict[str, _Group] = {}
        self._round_robin = itertools.count()
        self._member_ids = itertools.count()
        self._appended = asyncio.Event()
        self._appended_loop: asyncio.AbstractEventLoop | None = None
        self._waiting = 0

    def create_topic(self, name: str, partitions: int = 1) -> None:
        """Create `name` with `partitions` partitions (no-op when it exists)."""
        self.topics.setdefault(name, [[] for _ in range(partitions)])

    def _log(self, topic: str) -> list[list[Record]]:
        self.create_topic(topic, self._default_partitions)
        return self.topics[topic]

    async def append(self, message: OutboundMessage) -> Record:
        """Append `message` to its topic's partition (by key) and wake consumers."""
        partitions = self._log(message.topic)
        if message.key is None:
            index = next(self._round_robin) % len(partitions)
        else:
            index = partition_for(message.key, len(partitions))
        log_ = partitions[index]
        record = Record(message.topic, index, len(log_), message.key, message.value, list(message.headers))
        log_.append(record)
        if self._waiting:  # wake fetchers; a fresh event for the next wait
            self._appended.set()
            self._appended = asyncio.Event()
        return record

    def records(self, topic: str) -> list[Record]:
        """Every record of `topic`, partition by partition (for tests and tools)."""
        return [record for partition in self.topics.get(topic, []) for record in partition]

    # -- groups -----------------------------------------------------------------

    def join(self, group: str, topics: list[str], listener: RebalanceListener) -> int:
        state = self._groups.setdefault(group, _Group())
        member_id = next(self._member_ids)
        state.members[member_id] = _Member(topics, listener)
        state.generation += 1
        return member_id

    async def leave(self, group: str, member_id: int) -> None:
        state = self._groups[group]
        member = state.members.pop(member_id)
        offsets = await member.listener.revoked(member.owned)
        state.committed.update(offsets)
        state.generation += 1

    def commit(self, group: str, offsets: Offsets) -> None:
        self._groups[group].committed.update(offsets)

    def committed(self, group: str, tp: TopicPartition) -> int | None:
        """The committed offset of `group` on `tp`, if any."""
        state = self._groups.get(group)
        return None if state is None else state.committed.get(tp)

    def _assignment(self, state: _Group, member_id: int) -> list[TopicPartition]:
        ids = sorted(state.members)
        topics = sorted({topic for member in state.members.values() for topic in member.topics})
        tps = [TopicPartition(t, p) for t in topics for p in range(len(self._log(t)))]
        mine = [tp for i, tp in enumerate(tps) if ids[i % len(ids)] == member_id]
        return [tp for tp in mine if tp.topic in state.members[member_id].topics]

    async def _rebalance(self, group: str, member_id: int) -> bool:
        """Bring the member to the group's generation; False until every member gave up old partitions."""
        state = self._groups[group]
        member = state.members[member_id]
        if member.generation != state.generation:
            if member.owned:
                state.committed.update(await member.listener.revoked(member.owned))
            member.owned, member.positions, member.assigned = [], {}, False
            member.generation = state.generation
        if not member.assigned:
            if any(m.generation != state.generation for m in state.members.values()):
                return False
            member.owned = self._assignment(state, member_id)
            member.paused.clear()
            member.positions = {tp: state.committed.get(tp, 0) for tp in member.owned}
            member.assigned = True
            await member.listener.assigned(list(member.owned))
        return True

    async def fetch(self, group: str, member_id: int, *, batch: int, timeout: float) -> list[Record]:
        """Up to `batch` records for the member, waiting up to `timeout` when there are none."""
        if not await self._rebalance(group, member_id):
            await asyncio.sleep(timeout)
            return []
        records = self._take(self._groups[group].members[member_id], batch)
        if records:
            return records
        appended = self._appended_event()  # no await since _take: no append can be missed
        self._waiting += 1
        try:
            await asyncio.wait_for(appended.wait(), timeout)
        except TimeoutError:
            return []
        finally:
            self._waiting -= 1
        return self._take(self._groups[group].members[member_id], batch)

    def _appended_event(self) -> asyncio.Event:
        """The wake-up event of the running loop: an event waited on in one loop fails in another,
        and the broker outlives loops (a process may run several one after the other)."""
        loop = asyncio.get_running_loop()
        if self._appended_loop is not loop:
            self._appended, self._appended_loop = asyncio.Event(), loop
        return self._appended

    def _take(self, member: _Member, batch: int) -> list[Record]:
        out: list[Record] = []
        for tp in member.owned:
            if tp in member.paused:
                continue
            partition = self.topics[tp.topic][tp.partition]
            start = member.positions[tp]
            chunk = partition[start : start + batch - len(out)]
            member.positions[tp] = start + len(chunk)
            out.extend(chunk)
            if len(out) >= batch:
                break
        return out

    def pause(
        self, group: str, member_id: int, pause: set[TopicPartition], resume: set[TopicPartition]
    ) -> None:
        member = self._groups[group].members[member_id]
        member.paused |= pause & set(member.owned)
        member.paused -= resume


class MemorySource:
    """One consumer-group member on a `MemoryBroker`."""

    def __init__(
        self, broker: MemoryBroker, group: str, *, batch: int = 1000, poll_timeout: float = 0.05
    ) -> None:
        self._broker = broker
        self._group = group
        self._batch = batch
        self._poll_timeout = poll_timeout
        self._member: int | None = None

    async def open(self, topics: list[str], listener: RebalanceListener) -> None:
        self._member = self._broker.join(self._group, topics, listener)

    async def fetch(self, *, pause: set[TopicPartition], resume: set[TopicPartition]) -> list[Record]:
        assert self._member is not None
        if pause or resume:
            self._broker.pause(self._group, self._member, pause, resume)
        return await self._broker.fetch(
            self._group, self._member, batch=self._batch, timeout=self._poll_timeout
        )

    async def commit(self, offsets: Offsets) -> None:
        self._broker.commit(self._group, offsets)

    async def close(self) -> None:
        if self._member is not None:
            member, self._member = self._member, None
            await self._broker.leave(self._group, member)


class MemoryProducerBackend:
    """Appends to a `MemoryBroker`; delivery is immediate."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def start(self) -> None:
        return None

    async def send(self, message: OutboundMessage) -> None:
        await self._broker.append(message)

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None
