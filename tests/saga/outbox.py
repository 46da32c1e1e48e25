"""Reading what an orchestrator staged in the outbox, and answering it as a participant would."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from atlas_runtime.db import Database, decode_headers, outbox_table
from atlas_runtime.saga import KIND_HEADER, STEP_HEADER, SagaOrchestrator, Verdict


@dataclass(frozen=True)
class Staged:
    """One outbox row: topic, key, envelope and headers."""

    id: int
    topic: str
    key: str
    envelope: dict[str, Any]
    headers: dict[str, bytes]

    @property
    def kind(self) -> str:
        return self.headers[KIND_HEADER].decode()

    @property
    def step(self) -> str | None:
        raw = self.headers.get(STEP_HEADER)
        return raw.decode() if raw else None

    @property
    def saga_id(self) -> uuid.UUID:
        return uuid.UUID(self.key)


async def staged(db: Database, saga_id: uuid.UUID | None = None) -> list[Staged]:
    """Every outbox row (of one saga when given), in enqueue order."""
    statement = select(outbox_table).order_by(outbox_table.c.id)
    if saga_id is not None:
        statement = statement.where(outbox_table.c.key == str(saga_id).encode())
    async with db.engine.connect() as conn:
        rows = (await conn.execute(statement)).all()
    return [
        Staged(r.id, r.topic, r.key.decode(), json.loads(r.value), dict(decode_headers(r.headers)))
        for r in rows
    ]


def status_topic_of(orchestrator: SagaOrchestrator, command: Staged) -> str:
    """The real completion topic of the step a command belongs to."""
    for definition in orchestrator.definitions.values():
        for step in definition.steps:
            if step.name == command.step and step.completion is not None:
                return orchestrator.topics[step.completion.topic]
    raise AssertionError(f"no step {command.step} with a completion event")


async def answer(
    orchestrator: SagaOrchestrator,
    command: Staged,
    *,
    ok: bool = True,
    echo_step: bool = True,
    receipt: str | None = None,
) -> Verdict:
    """Reply to a DO command with DONE (receipt `<saga>:<step>`) or REFUSED."""
    envelope: dict[str, Any] = {
        "type": "DONE" if ok else "REFUSED",
        "transaction_id": str(command.saga_id),
        "body": {"receipt": receipt or f"{command.saga_id}:{command.step}"} if ok else {"error_code": "NOPE"},
    }
    headers = [(STEP_HEADER, (command.step or "").encode())] if echo_step else []
    return await orchestrator.on_event(status_topic_of(orchestrator, command), envelope, headers=headers)
