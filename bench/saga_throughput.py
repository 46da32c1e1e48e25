"""Saga step completions per second, 1 vs 2 orchestrator replicas, and the conflict-retry rate.

    scripts/services up
    python bench/saga_throughput.py [--sagas 400] [--steps 4] [--concurrency 16]

Every replica is its own process with its own connection pool, on a throwaway database
`atlas_saga_bench_<random>` of the test PostgreSQL. Sagas are started first; then the
replicas apply one success event per step (each event a full orchestrator transaction:
read, version-checked update, history row, outbox rows for the next command).

- `1 replica`: one process applies every event;
- `2 replicas, partitioned`: each applies the events of half the sagas, as two
  consumers of a keyed Kafka topic would;
- `2 replicas, contended`: both apply every event (the worst case: every event
  delivered to both), so each step is raced; one wins, the other re-reads and sees a
  duplicate.

completions/s counts steps that advanced, over the wall time of the slowest replica.
conflict retries/completion is the number of re-reads after a version conflict.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg

from atlas_runtime.db import Database, DatabaseSettings, PoolSpec
from atlas_runtime.db.engine import create_engine
from atlas_runtime.saga import STEP_HEADER, SagaOrchestrator, Verdict, create_schema, definitions_from_service
from atlas_runtime.tenant import Tenant
from atlas_spec import ServiceSpec

TENANT = Tenant(uuid.UUID("083839c6-c47c-42a6-9585-76492795d123"), "GMS", 83, 1)
TOPICS = {"COMMAND_TOPIC_WORK": "work", "EVENT_TOPIC_WORK_STATUS": "work-status", "EVENT_TOPIC_DONE": "done"}


def spec(steps: int) -> ServiceSpec:
    def step(i: int) -> dict[str, Any]:
        return {
            "name": f"s{i}",
            "action": {"topic": "COMMAND_TOPIC_WORK", "message": "Work", "type": "DO"},
            "completion": {"topic": "EVENT_TOPIC_WORK_STATUS", "message": "WorkStatus", "success": ["DONE"]},
            "compensation": {"topic": "COMMAND_TOPIC_WORK", "message": "Work", "type": "UNDO"},
        }

    return ServiceSpec.model_validate(
        {
            "service": "bench",
            "models": {"Job": {"job": "uint32"}},
            "messages": {
                "Work": {
                    "fields": {"transaction_id": "uuid"},
                    "types": {"DO": {"job": "uint32"}, "UNDO": {}},
                },
                "WorkStatus": {"fields": {"transaction_id": "uuid"}, "types": {"DONE": {"receipt": "str"}}},
                "Done": {"fields": {"transaction_id": "uuid"}, "types": {"COMPLETED": {}, "FAILED": {}}},
            },
            "sagas": {
                "job": {
                    "data": "Job",
                    "steps": [step(i) for i in range(1, steps + 1)],
                    "events": {"topic": "EVENT_TOPIC_DONE", "message": "Done"},
                }
            },
        }
    )


def db_settings(name: str) -> DatabaseSettings:
    return DatabaseSettings(
        host=os.environ.get("DB_HOST", "127.0.0.1"),
        port=int(os.environ.get("DB_PORT", "15432")),
        user=os.environ.get("DB_USER", "atlas"),
        name=name,
        sslmode="disable",
    )


def orchestrator(name: str, steps: int) -> SagaOrchestrator:
    settings = db_settings(name)
    engine = create_engine(settings, service="bench", pool=PoolSpec(max_open=20, max_idle=20))
    return SagaOrchestrator(
        definitions_from_service(spec(steps)),
        Database(engine, service="bench", settings=settings),
        topics=TOPICS,
    )


@dataclass
class Outcome:
    advanced: int
    conflicts: int
    retries: int
    elapsed: float


async def apply_events(name: str, steps: int, saga_ids: list[str], concurrency: int, go: Any) -> Outcome:
    orch = orchestrator(name, steps)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for saga_id in saga_ids:
        queue.put_nowait(saga_id)
    advanced = 0

    async def worker() -> None:
        nonlocal advanced
        while not queue.empty():
            saga_id = queue.get_nowait()
            for i in range(1, steps + 1):
                event = {"type": "DONE", "transaction_id": saga_id, "body": {"receipt": f"r{i}"}}
                verdict = await orch.on_event(
                    "work-status", event, headers=[*TENANT.kafka_headers(), (STEP_HEADER, f"s{i}".encode())]
                )
                advanced += verdict is Verdict.ADVANCED

    await asyncio.to_thread(go.wait)
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await orch.database.close()
    return Outcome(advanced, orch.stats["conflicts"], orch.stats["conflict_retries"], elapsed)


def replica_main(name: str, steps: int, saga_ids: list[str], concurrency: int, go: Any, out: Any) -> None:
    out.put(asyncio.run(apply_events(name, steps, saga_ids, concurrency, go)))


async def start_sagas(name: str, steps: int, count: int) -> list[str]:
    orch = orchestrator(name, steps)
    await create_schema(orch.database.engine)
    ids = []
    for n in range(count):
        ids.append(str((await orch.start("job", {"job": n}, tenant=TENANT)).saga.id))
    await orch.database.close()
    return ids


def run_mode(label: str, shares: list[list[str]], steps: int, concurrency: int) -> dict[str, Any]:
    name = f"atlas_saga_bench_{uuid.uuid4().hex[:10]}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        ids = asyncio.run(
            start_sagas(name, steps, len(shares[0]) if label.endswith("contended") else sum(map(len, shares)))
        )
        work = [ids] * len(shares) if label.endswith("contended") else split(ids, len(shares))
        ctx = mp.get_context("spawn")
        go, out = ctx.Event(), ctx.Queue()
        procs = [
            ctx.Process(target=replica_main, args=(name, steps, share, concurrency, go, out))
            for share in work
        ]
        for proc in procs:
            proc.start()
        time.sleep(2.0)  # let every replica import and open its pool before the clock starts
        go.set()
        outcomes = [out.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    advanced = sum(o.advanced for o in outcomes)
    elapsed = max(o.elapsed for o in outcomes)
    return {
        "mode": label,
        "completions": advanced,
        "per_s": advanced / elapsed,
        "retries": sum(o.retries for o in outcomes) / max(advanced, 1),
        "exhausted": sum(o.conflicts - o.retries for o in outcomes),
    }


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(rows, key=lambda row: row["per_s"])[len(rows) // 2]


def split(ids: list[str], parts: int) -> list[list[str]]:
    return [ids[i::parts] for i in range(parts)]


def admin(sql: str) -> None:
    settings = db_settings(os.environ.get("DB_NAME", "atlas_test"))
    with psycopg.connect(
        host=settings.host, port=settings.port, user=settings.user, dbname=settings.name, autocommit=True
    ) as conn:
        conn.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sagas", type=int, default=400)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is shown")
    args = parser.parse_args()
    ids = [str(n) for n in range(args.sagas)]
    modes = [
        ("1 replica", [ids]),
        ("2 replicas, partitioned", split(ids, 2)),
        ("2 replicas, contended", [ids, ids]),
    ]
    # Interleaved rounds, so a change of machine load hits every mode alike.
    runs = [
        [run_mode(label, shares, args.steps, args.concurrency) for label, shares in modes]
        for _ in range(args.rounds)
    ]
    rows = [median_row([r[i] for r in runs]) for i in range(len(modes))]
    base = rows[0]["per_s"]
    print(
        f"{args.sagas} sagas x {args.steps} steps, {args.concurrency} in flight per replica, "
        f"median of {args.rounds} rounds, {os.cpu_count()} CPUs shared with PostgreSQL"
    )
    print(
        f"{'mode':<26}{'completions':>12}{'completions/s':>15}{'vs 1':>7}{'retries/compl.':>16}{'gave up':>9}"
    )
    for row in rows:
        print(
            f"{row['mode']:<26}{row['completions']:>12}{row['per_s']:>15.0f}{row['per_s'] / base:>6.2f}x"
            f"{row['retries']:>16.3f}{row['exhausted']:>9}"
        )


if __name__ == "__main__":
    main()
