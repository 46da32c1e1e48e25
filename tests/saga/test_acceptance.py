"""500 sagas through two generated orchestrator processes, one SIGKILLed and restarted mid-run.

Every process is a service rendered by `atlas-gen render` from a spec the test writes
(`services.py`), on the real Kafka, Redis and PostgreSQL: two replicas of a fake
participant that refuses one step of every fourth saga and also sends stale and
duplicate answers, and two replicas of the orchestrator, each service on its own
database. Once 30% of the sagas have finished, the orchestrator replica that drains the
outbox is SIGKILLed, while it holds partitions it has consumed from, and started again.
"""

from __future__ import annotations

import itertools
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from atlas_runtime.db import Database, DrainerOptions
from atlas_runtime.saga import SagaStore, check_transition

from .cluster import (
    Partition,
    Rig,
    committed_offsets,
    create_topics,
    group_assignment,
    group_by_key,
    partitions_of,
    produce_triggers,
    read_all,
    wait_for_assignment,
)
from .conftest import TENANT, admin
from .services import HANDLERS, ORCHESTRATOR, PARTICIPANT, render
from .specs import ORDER_STATUS, ORDER_TRIGGER, STEP_STATUS_TOPICS, WORK_TOPICS, topics_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.kafka, pytest.mark.redis]

SAGAS = 500
Connection = psycopg.Connection[tuple[object, ...]]


@dataclass(frozen=True)
class Kill:
    """The orchestrator group as the victim was SIGKILLed, and the wall-clock window of the kill."""

    assignment: dict[str, frozenset[Partition]]
    offsets: dict[Partition, int]
    finished: int
    before: datetime
    after: datetime


def plan() -> list[dict[str, object]]:
    """3 to 5 steps each; every fourth saga is refused at one of its steps."""
    orders: list[dict[str, object]] = []
    for n in range(SAGAS):
        steps = 3 + n % 3
        order: dict[str, object] = {
            "transaction_id": str(uuid.uuid4()),
            "order_id": n,
            "amount": 10 * n,
            "steps": steps,
        }
        if n % 4 == 0:
            order["fail_step"] = f"s{1 + (n // 4) % steps}"
        orders.append(order)
    return orders


def statuses(conn: Connection) -> Counter[str]:
    rows = conn.execute("SELECT status, count(*) FROM atlas_sagas GROUP BY status").fetchall()
    return Counter({str(status): int(count) for status, count in rows})  # type: ignore[call-overload]


def finished(counts: Counter[str]) -> int:
    return counts["completed"] + counts["compensated"] + counts["failed"]


def wait_until(conn: Connection, done: int, timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        counts = statuses(conn)
        if finished(counts) >= done:
            return counts
        assert time.monotonic() < deadline, f"only {dict(counts)} after {timeout}s"
        time.sleep(0.2)


@pytest.fixture
def participant_db_name(db_env: dict[str, str]) -> Iterator[str]:
    """An empty database of the participant service (it migrates its own tables), dropped after."""
    name = f"atlas_saga_participant_{uuid.uuid4().hex[:12]}"
    with admin(db_env) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin(db_env) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(db_env: dict[str, str], name: str) -> Connection:
    host, port, user = db_env["DB_HOST"], int(db_env["DB_PORT"]), db_env["DB_USER"]
    return psycopg.connect(host=host, port=port, user=user, dbname=name, autocommit=True)


def rig_env(topics: dict[str, str], backends: dict[str, str], out: Path) -> dict[str, str]:
    """What every process gets: topics, backends, a fresh key prefix, the generated and handler code."""
    path = [str(out), str(HANDLERS.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {
        **topics,
        **backends,
        "ATLAS_ENV": f"saga-{uuid.uuid4().hex[:10]}",
        "AUTH_MODE": "off",
        "REST_SHUTDOWN_GRACE": "0",
        "SAGA_REAPER_INTERVAL": "1s",
        "PYTHONPATH": os.pathsep.join(path),
    }


@dataclass(frozen=True)
class Ecosystem:
    """The rendered services, their topics and consumer groups, and the rig running them."""

    rig: Rig
    topics: dict[str, str]
    participant: str
    orchestrator: str
    groups: dict[str, str]


@pytest.fixture
def ecosystem(
    saga_db_name: str,
    participant_db_name: str,
    db_env: dict[str, str],
    kafka_bootstrap: str,
    redis_url: str,
    tmp_path: Path,
) -> Iterator[Ecosystem]:
    """Topics created, both specs rendered by `atlas-gen render`, a rig to run them; stopped after."""
    suffix = uuid.uuid4().hex[:10]
    topics = topics_for(suffix)
    create_topics(kafka_bootstrap, topics)
    packages = render(tmp_path / "ecosystem")
    participant, orchestrator = packages[PARTICIPANT], packages[ORCHESTRATOR]
    groups = {participant: f"participants-{suffix}", orchestrator: f"orders-{suffix}"}
    databases = {participant: participant_db_name, orchestrator: saga_db_name}
    backends = {**db_env, "BOOTSTRAP_SERVERS": kafka_bootstrap, "REDIS_URL": redis_url}
    rig = Rig(
        rig_env(topics, backends, tmp_path / "ecosystem" / "out"),
        tmp_path,
        {p: {"KAFKA_CONSUMER_GROUP": groups[p], "DB_NAME": databases[p]} for p in packages.values()},
    )
    try:
        yield Ecosystem(rig, topics, participant, orchestrator, groups)
    finally:
        rig.stop_all()


def start(eco: Ecosystem, bootstrap: str) -> dict[str, frozenset[Partition]]:
    """Two participants and two orchestrators, ready and holding partitions; the orchestrator group."""
    p, o = eco.participant, eco.orchestrator
    eco.rig.spawn_all({"p1": p, "p2": p, "a": o, "b": o})
    work = partitions_of([eco.topics[t] for t in WORK_TOPICS])
    wait_for_assignment(bootstrap, eco.groups[p], members=2, partitions=work)
    consumed = partitions_of([eco.topics[t] for t in (ORDER_TRIGGER, *STEP_STATUS_TOPICS)])
    return wait_for_assignment(bootstrap, eco.groups[o], members=2, partitions=consumed)


def outbox_leader(rig: Rig, names: tuple[str, ...], timeout: float = 15.0) -> str:
    """The replica whose outbox drainer holds the leader lock (it logs taking the lock)."""
    deadline = time.monotonic() + timeout
    while True:
        leaders = [name for name in names if "outbox.lock_acquired" in rig.log_of(name)]
        if leaders:
            (leader,) = leaders
            return leader
        assert time.monotonic() < deadline, f"no outbox leader among {names} after {timeout}s"
        time.sleep(0.2)


def kill(rig: Rig, victim: str, conn: Connection, bootstrap: str, group: str) -> Kill:
    """SIGKILL `victim` once 30% of the sagas finished; the group's assignment and offsets just before."""
    done = finished(wait_until(conn, SAGAS * 3 // 10, timeout=60))
    assignment, offsets = group_assignment(bootstrap, group), committed_offsets(bootstrap, group)
    before = datetime.now(UTC)
    rig.kill(victim)
    return Kill(assignment, offsets, done, before, datetime.now(UTC))


def wait_for_outbox(conn: Connection, timeout: float = 30.0) -> None:
    """Wait until the orchestrators published every outbox row (before they are stopped)."""
    deadline = time.monotonic() + timeout
    while conn.execute("SELECT count(*) FROM atlas_outbox WHERE sent_at IS NULL").fetchone() != (0,):
        assert time.monotonic() < deadline, f"the outbox was not drained within {timeout}s"
        time.sleep(0.2)


def check_victim_was_working(
    settled: dict[str, frozenset[Partition]], kill: Kill, after: dict[str, frozenset[Partition]], trigger: str
) -> tuple[int, int]:
    """The victim held partitions it had consumed from: (records it committed, partitions it held).

    `settled` is the orchestrator group before the first trigger, `after` once the
    restarted replica joined: the victim is the member that left. The assignment did not
    change between the first trigger and the kill, so every offset committed on the
    victim's partitions is a trigger or status event the victim itself applied.
    """
    assert kill.assignment == settled, "the orchestrators rebalanced before the kill"
    (victim,) = settled.keys() - after.keys()
    held = settled[victim]
    trigger_offsets = [kill.offsets.get(p, 0) for p in held if p[0] == trigger]
    event_offsets = [kill.offsets.get(p, 0) for p in held if p[0] != trigger]
    assert held and sum(trigger_offsets) > 0 and sum(event_offsets) > 0, (held, kill.offsets)
    assert kill.finished < SAGAS, "the replica was killed after the run, not during it"
    return sum(trigger_offsets) + sum(event_offsets), len(held)


def check_participant_effects(conn: Connection, orders: list[dict[str, object]]) -> int:
    """Each step's command and each compensation reached a participant once, with the right values.

    Returns how many compensations were expected (and applied).
    """
    effects = conn.execute(
        "SELECT saga_id, step, kind, event_id, correct FROM participant_effects"
    ).fetchall()
    assert Counter(str(e[3]) for e in effects).most_common(1)[0][1] == 1, "a command was applied twice"
    assert all(e[4] for e in effects), [e for e in effects if not e[4]]
    expected_do, expected_undo = set(), set()
    for o in orders:
        last = int(str(o.get("fail_step", f"s{o['steps']}"))[1:])
        expected_do |= {(str(o["transaction_id"]), f"s{i}") for i in range(1, last + 1)}
        if "fail_step" in o:
            expected_undo |= {(str(o["transaction_id"]), f"s{i}") for i in range(1, last)}
    done = Counter((str(e[0]), str(e[1]), str(e[2])) for e in effects)
    assert {(s, step) for s, step, kind in done if kind == "DO"} == expected_do
    assert {(s, step) for s, step, kind in done if kind == "UNDO"} == expected_undo
    assert set(done.values()) == {1}
    return len(expected_undo)


def check_injected_answers(conn: Connection, bootstrap: str, topics: list[str]) -> tuple[int, int]:
    """The participants answered every DO once, plus the stale and duplicate answers they inject.

    Returns (answers, DOs): everything beyond one answer per DO was noise that the
    orchestrators had to ignore.
    """
    dos = [
        (str(s), int(str(step)[1:]))
        for s, step in conn.execute("SELECT saga_id, step FROM participant_effects WHERE kind = 'DO'")
    ]
    injected = sum((i > 1 and int(s[-1], 16) % 2 == 0) + (int(s[-3], 16) % 3 == 0) for s, i in dos)
    answers = read_all(bootstrap, topics, at_least=len(dos) + injected)
    assert len(answers) == len(dos) + injected
    return len(answers), len(dos)


def check_staged_compensations(conn: Connection, expected: int) -> None:
    """The orchestrators staged each compensation once, each with its own receipt."""
    staged_undo = conn.execute(
        "SELECT count(*), count(DISTINCT convert_from(value, 'UTF8')::jsonb #>> '{body,receipt}') "
        "FROM atlas_outbox WHERE convert_from(value, 'UTF8')::jsonb ->> 'type' = 'UNDO'"
    ).fetchone()
    assert staged_undo == (expected, expected)


async def check_histories(saga_db: Database, saga_ids: list[str]) -> None:
    """No saga's history has a gap, an illegal transition or changed data."""
    store = SagaStore()
    async with saga_db.session_across_tenants() as session:
        for saga_id in saga_ids:
            versions = await store.history(session, uuid.UUID(saga_id))
            assert [v.version for v in versions] == list(range(1, len(versions) + 1))
            assert versions[0].data == versions[-1].data
            for before, after in itertools.pairwise(versions):
                assert check_transition(before, after) == [], saga_id


def check_terminal_events(conn: Connection, bootstrap: str, topic: str, failing: set[str], kill: Kill) -> int:
    """One terminal event per saga: staged once, one distinct event on the topic; returns the re-sent.

    The orchestrator stages the terminal event in the transaction that ends the saga, so
    the outbox holds exactly one row per saga. The outbox publishes at least once: a
    drainer SIGKILLed after the broker acknowledged a batch but before its `sent_at`
    committed leaves those rows pending, and the next leader sends them again with the
    same `EVENT_ID`. So a second copy is legitimate only for a row created before the
    kill and marked sent after it, at most one drainer batch of them; every other
    terminal event is on the topic exactly once.
    """
    rows = conn.execute(
        "SELECT convert_from(key, 'UTF8'), event_id, created_at, sent_at FROM atlas_outbox WHERE topic = %s",
        (topic,),
    ).fetchall()
    staged: dict[str, tuple[uuid.UUID, datetime, datetime]] = {
        str(key): (uuid.UUID(str(event_id)), created, sent)  # type: ignore[misc]
        for key, event_id, created, sent in rows
    }
    assert len(rows) == len(staged) == SAGAS, "a saga staged no terminal event, or two"
    events = group_by_key(read_all(bootstrap, topic, at_least=SAGAS))
    assert set(events) == set(staged)
    resent = 0
    for saga_id, copies in events.items():
        event_id, created, sent = staged[saga_id]
        assert {uuid.UUID(headers["EVENT_ID"].decode()) for headers, _ in copies} == {event_id}, saga_id
        assert {value["type"] for _, value in copies} == {"FAILED" if saga_id in failing else "COMPLETED"}
        if len(copies) > 1:
            assert len(copies) == 2 and created < kill.after and sent > kill.before, (saga_id, created, sent)
            resent += 1
    assert resent <= DrainerOptions().batch_size
    return resent


async def test_sagas_survive_a_killed_replica(
    ecosystem: Ecosystem,
    saga_db: Database,
    saga_db_name: str,
    participant_db_name: str,
    db_env: dict[str, str],
    kafka_bootstrap: str,
) -> None:
    """Every saga ends completed or compensated, compensations run once, one terminal event each."""
    eco, started, orders = ecosystem, time.monotonic(), plan()
    conn = connect(db_env, saga_db_name)
    settled = start(eco, kafka_bootstrap)
    ready_after = time.monotonic() - started
    victim = outbox_leader(eco.rig, ("a", "b"))
    produce_triggers(kafka_bootstrap, eco.topics[ORDER_TRIGGER], orders, TENANT.kafka_headers())
    load_started = time.monotonic()
    killed = kill(eco.rig, victim, conn, kafka_bootstrap, eco.groups[eco.orchestrator])
    killed_after = time.monotonic() - load_started
    eco.rig.spawn_all({f"{victim}-restarted": eco.orchestrator})
    final = wait_until(conn, SAGAS, timeout=90)
    finished_after = time.monotonic() - load_started
    wait_for_outbox(conn)
    rejoined = wait_for_assignment(
        kafka_bootstrap, eco.groups[eco.orchestrator], members=2, partitions=set().union(*settled.values())
    )
    eco.rig.stop_all()
    applied, held = check_victim_was_working(settled, killed, rejoined, eco.topics[ORDER_TRIGGER])

    failing = {str(o["transaction_id"]) for o in orders if "fail_step" in o}
    rows = conn.execute("SELECT id::text, status FROM atlas_sagas").fetchall()
    assert len(rows) == SAGAS
    for saga_id, status in rows:
        assert status == ("compensated" if saga_id in failing else "completed"), saga_id
    assert final == Counter({"completed": SAGAS - len(failing), "compensated": len(failing)})
    with connect(db_env, participant_db_name) as participant_conn:
        compensations = check_participant_effects(participant_conn, orders)
        status_topics = [eco.topics[t] for t in STEP_STATUS_TOPICS]
        answers, dos = check_injected_answers(participant_conn, kafka_bootstrap, status_topics)
    check_staged_compensations(conn, compensations)
    await check_histories(saga_db, [str(saga_id) for saga_id, _ in rows])
    resent = check_terminal_events(conn, kafka_bootstrap, eco.topics[ORDER_STATUS], failing, killed)
    conn.close()
    print(
        f"\n{SAGAS} sagas: services ready in {ready_after:.1f}s; kill of the outbox leader at "
        f"{killed_after:.1f}s ({killed.finished} finished; it held {held} partitions and had applied "
        f"{applied} records), all finished at {finished_after:.1f}s, checked at "
        f"{time.monotonic() - started:.1f}s; {answers} answers to {dos} commands; "
        f"{resent} terminal events re-sent after the kill"
    )
