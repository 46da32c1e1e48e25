"""500 sagas through two orchestrator processes, one SIGKILLed and restarted mid-run (Kafka, PostgreSQL)."""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter

import psycopg
import pytest

from atlas_runtime.db import Database
from atlas_runtime.saga import SagaStore, check_transition

from .cluster import Rig, create_topics, group_by_key, produce_triggers, read_all
from .conftest import TENANT
from .specs import ORDER_STATUS, ORDER_TRIGGER, topics_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.kafka]

SAGAS = 500
NAMES = {3: "three", 4: "four", 5: "five"}


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


def statuses(conn: psycopg.Connection[tuple[object, ...]]) -> Counter[str]:
    rows = conn.execute("SELECT status, count(*) FROM atlas_sagas GROUP BY status").fetchall()
    return Counter({str(status): int(count) for status, count in rows})  # type: ignore[call-overload]


def wait_until(conn: psycopg.Connection[tuple[object, ...]], finished: int, timeout: float) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while True:
        counts = statuses(conn)
        if counts["completed"] + counts["compensated"] + counts["failed"] >= finished:
            return counts
        assert time.monotonic() < deadline, f"only {dict(counts)} after {timeout}s"
        time.sleep(0.2)


async def test_sagas_survive_a_killed_replica(
    saga_db: Database, saga_db_name: str, db_env: dict[str, str], kafka_bootstrap: str
) -> None:
    """Every saga ends completed or compensated, compensations run once, one terminal event each."""
    suffix = uuid.uuid4().hex[:10]
    topics = topics_for(suffix)
    create_topics(kafka_bootstrap, topics)
    conn = psycopg.connect(
        host=db_env["DB_HOST"],
        port=int(db_env["DB_PORT"]),
        user=db_env["DB_USER"],
        dbname=saga_db_name,
        autocommit=True,
    )
    conn.execute(
        "CREATE TABLE participant_effects (event_id uuid PRIMARY KEY, saga_id uuid NOT NULL, "
        "step text NOT NULL, kind text NOT NULL, correct boolean NOT NULL)"
    )
    rig = Rig(saga_db_name, suffix, kafka_bootstrap, db_env)
    orders = plan()
    started = time.monotonic()
    try:
        rig.spawn_all(
            {
                "p1": "participant_proc.py",
                "p2": "participant_proc.py",
                "a": "orchestrator_proc.py",
                "b": "orchestrator_proc.py",
            }
        )
        produce_triggers(kafka_bootstrap, topics[ORDER_TRIGGER], orders, TENANT.kafka_headers())
        at_kill = wait_until(conn, SAGAS * 3 // 10, timeout=40)
        killed_after = time.monotonic() - started
        rig.kill("a")
        rig.spawn("a-restarted", "orchestrator_proc.py")
        final = wait_until(conn, SAGAS, timeout=120)
        finished_after = time.monotonic() - started
    finally:
        rig.stop_all()
    elapsed = time.monotonic() - started
    finished_at_kill = sum(at_kill[s] for s in ("completed", "compensated", "failed"))
    assert finished_at_kill < SAGAS, "the replica was killed after the run, not during it"

    failing = {o["transaction_id"]: o for o in orders if "fail_step" in o}
    rows = conn.execute("SELECT id::text, status FROM atlas_sagas").fetchall()
    assert len(rows) == SAGAS
    for saga_id, status in rows:
        assert status == ("compensated" if saga_id in failing else "completed"), saga_id
    assert final == Counter({"completed": SAGAS - len(failing), "compensated": len(failing)})

    # Each compensation ran exactly once, only where a later step failed, with the right receipt.
    undo = Counter(
        (str(s), str(step))
        for s, step in conn.execute("SELECT saga_id::text, step FROM participant_effects WHERE kind = 'UNDO'")
    )
    expected_undo = {
        (saga_id, f"s{i}") for saga_id, o in failing.items() for i in range(1, int(str(o["fail_step"])[1:]))
    }
    assert set(undo) == expected_undo
    assert set(undo.values()) == {1}
    assert conn.execute("SELECT count(*) FROM participant_effects WHERE NOT correct").fetchone() == (0,)
    staged_undo = conn.execute(
        "SELECT count(*), count(DISTINCT convert_from(value, 'UTF8')::jsonb #>> '{body,receipt}') "
        "FROM atlas_outbox WHERE convert_from(value, 'UTF8')::jsonb ->> 'type' = 'UNDO'"
    ).fetchone()
    assert staged_undo == (len(expected_undo), len(expected_undo))

    # No saga's history has a gap, an illegal transition or changed data.
    store = SagaStore()
    async with saga_db.session_across_tenants() as session:
        for saga_id, _ in rows:
            versions = await store.history(session, uuid.UUID(saga_id))
            assert [v.version for v in versions] == list(range(1, len(versions) + 1))
            assert versions[0].data == versions[-1].data
            for before, after in itertools.pairwise(versions):
                assert check_transition(before, after) == [], saga_id

    # The status topic carries one terminal event per saga (redeliveries would repeat its EVENT_ID).
    events = group_by_key(read_all(kafka_bootstrap, topics[ORDER_STATUS], at_least=SAGAS))
    assert set(events) == {str(o["transaction_id"]) for o in orders}
    redelivered = 0
    for saga_id, copies in events.items():
        assert len({headers["EVENT_ID"] for headers, _ in copies}) == 1, saga_id
        assert {value["type"] for _, value in copies} == {"FAILED" if saga_id in failing else "COMPLETED"}
        redelivered += len(copies) - 1
    print(
        f"\n{SAGAS} sagas: kill at {killed_after:.1f}s ({finished_at_kill} finished), all finished at "
        f"{finished_after:.1f}s, checked at {elapsed:.1f}s; {redelivered} terminal events redelivered"
    )
    conn.close()
