"""Handlers of the generated fake participant of the acceptance test (spec in `services.py`).

`do` answers a DO command with DONE (receipt `<saga>:<step>`), or with REFUSED when the
command names this step as its `fail_step`; `undo` applies a compensation. Both record
the command in `participant_effects` (in the inbox claim's transaction, so once per
`EVENT_ID`), with whether it carried the values it should have.

The participant also misbehaves on purpose, deterministically per saga id: for half the
sagas it first re-sends a stale answer (success or refusal) for the previous step, and
for a third it answers twice. Each step position has its own status topic, because a
generated handler cannot echo the command's `SAGA_STEP` header on what it emits.

Imported only by the participant processes, where the rendered package is on the path.
"""

from __future__ import annotations

import uuid

from atlas_saga_participant.messages import WorkDo, WorkUndo
from atlas_saga_participant.protocols import Context
from atlas_saga_participant.tables import ParticipantEffects


async def do(ctx: Context, message: WorkDo) -> None:
    """Record the DO, then answer it on the status topic of its step (plus the injected noise)."""
    saga_id, step = str(message.transaction_id), _header(ctx, "SAGA_STEP")
    index = int(step[1:])
    expected_prev = f"{saga_id}:s{index - 1}" if index > 1 else None
    _record(ctx, saga_id, step, "DO", correct=message.body.prev == expected_prev)
    if index > 1 and int(saga_id[-1], 16) % 2 == 0:
        # Injected: a stale answer for the previous step, after this one was dispatched.
        await ctx.emit(_status(index - 1), _reply(saga_id, index - 1, refused=int(saga_id[-2], 16) % 2 == 0))
    reply = _reply(saga_id, index, refused=message.body.fail_step == step)
    await ctx.emit(_status(index), reply)
    if int(saga_id[-3], 16) % 3 == 0:
        await ctx.emit(_status(index), reply)  # injected: a duplicate answer


async def undo(ctx: Context, message: WorkUndo) -> None:
    """Record the compensation and whether it carried the receipt of the step it undoes."""
    saga_id, step = str(message.transaction_id), _header(ctx, "SAGA_STEP")
    _record(ctx, saga_id, step, "UNDO", correct=message.body.receipt == f"{saga_id}:{step}")


def _record(ctx: Context, saga_id: str, step: str, kind: str, *, correct: bool) -> None:
    event_id = _header(ctx, "EVENT_ID")
    ctx.db.add(
        ParticipantEffects(
            id=uuid.uuid4(), event_id=event_id, saga_id=saga_id, step=step, kind=kind, correct=correct
        )
    )


def _header(ctx: Context, name: str) -> str:
    record = ctx.record
    assert record is not None, "called from a message handler"
    raw = record.header(name)
    if raw is None:
        raise ValueError(f"the command on {record.topic} carries no {name} header")
    return raw.decode()


def _status(index: int) -> str:
    return f"EVENT_TOPIC_S{index}_STATUS"


def _reply(saga_id: str, index: int, *, refused: bool) -> dict[str, object]:
    return {
        "type": "REFUSED" if refused else "DONE",
        "transaction_id": saga_id,
        "body": {"error_code": "REFUSED_BY_TEST"} if refused else {"receipt": f"{saga_id}:s{index}"},
    }
