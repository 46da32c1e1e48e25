"""A fake participant: answers DO commands (refusing the step named in `fail_step`), applies UNDOs.

It also misbehaves on purpose: for half the sagas it first re-sends a stale answer
(success or refusal) for the previous step, and for a third it answers twice.

python participant_proc.py DBNAME SUFFIX BOOTSTRAP DB_HOST DB_PORT DB_USER

Every command it receives is recorded once per `EVENT_ID` in `participant_effects`
(its inbox), with whether the command carried the values it should have. A redelivered
DO is answered again, as an idempotent participant re-announces its outcome.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import psycopg
from confluent_kafka import Message, Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kafka_loop

from specs import STATUS_TOPICS, WORK_TOPICS, topics_for

TENANT_HEADERS = ("TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION")


async def main(name: str, suffix: str, bootstrap: str, host: str, port: str, user: str) -> None:
    topics = topics_for(suffix)
    db = await psycopg.AsyncConnection.connect(
        host=host, port=int(port), user=user, dbname=name, autocommit=True
    )
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 2})
    stop = kafka_loop.stop_on_sigterm()
    lock = asyncio.Lock()

    async def handle(record: Message) -> None:
        headers = {k: v or b"" for k, v in record.headers() or []}
        envelope = json.loads(record.value())
        saga_id = envelope["transaction_id"]
        step = headers["SAGA_STEP"].decode()
        body = envelope["body"]
        if envelope["type"] == "DO":
            expected_prev = f"{saga_id}:s{int(step[1:]) - 1}" if step != "s1" else None
            correct = body.get("prev") == expected_prev
        else:
            correct = body.get("receipt") == f"{saga_id}:{step}"
        async with lock:  # one connection, shared by the partition workers
            await db.execute(
                "INSERT INTO participant_effects (event_id, saga_id, step, kind, correct) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                (headers["EVENT_ID"].decode(), saga_id, step, envelope["type"], correct),
            )
        if envelope["type"] != "DO":
            return
        refused = body.get("fail_step") == step
        out_headers = [(k, headers[k]) for k in TENANT_HEADERS]
        index = int(step[1:])
        if index > 1 and int(saga_id[-1], 16) % 2 == 0:
            # Injected: a stale answer for the previous step, after this one was dispatched.
            stale = _reply(saga_id, f"s{index - 1}", refused=int(saga_id[-2], 16) % 2 == 0)
            send(index - 1, saga_id, stale, out_headers)
        reply = _reply(saga_id, step, refused=refused)
        send(index, saga_id, reply, out_headers)
        if int(saga_id[-3], 16) % 3 == 0:
            send(index, saga_id, reply, out_headers)  # injected: a duplicate answer

    def send(
        index: int, saga_id: str, reply: dict[str, object], out_headers: list[tuple[str, bytes]]
    ) -> None:
        topic = topics[STATUS_TOPICS[(index - 1) % 3]]
        headers = [*out_headers, ("SAGA_STEP", f"s{index}".encode())]
        producer.produce(topic, key=saga_id.encode(), value=json.dumps(reply), headers=headers)
        producer.poll(0)

    async def flush() -> None:
        remaining = await asyncio.to_thread(producer.flush, 30.0)
        if remaining:
            raise RuntimeError(f"{remaining} replies not delivered")

    consumer = kafka_loop.consumer(bootstrap, f"participants-{suffix}", [topics[t] for t in WORK_TOPICS])
    print("ready", flush=True)
    await kafka_loop.run(consumer, handle, stop, before_commit=flush)
    await asyncio.to_thread(producer.flush, 10.0)
    await db.close()


def _reply(saga_id: str, step: str, *, refused: bool) -> dict[str, object]:
    return {
        "type": "REFUSED" if refused else "DONE",
        "transaction_id": saga_id,
        "body": {"error_code": "REFUSED_BY_TEST"} if refused else {"receipt": f"{saga_id}:{step}"},
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(*sys.argv[1:7]))
