"""Kafka command handlers of COMMAND_TOPIC_CHARACTER_BUFF (one at a time per character)."""

from __future__ import annotations

from datetime import UTC, datetime

from atlas_buffs.messages import BuffCommandApply, BuffCommandCancel
from atlas_buffs.protocols import BuffCommandApplyHandler, BuffCommandCancelHandler, Context

STATUS = "EVENT_TOPIC_CHARACTER_BUFF_STATUS"


async def _active(ctx: Context, character_id: int, source_id: int) -> list[int]:
    keys = await ctx.state.buffs.lookup("character", character_id)
    found = [(key, await ctx.state.buffs.get(key)) for key in keys]
    return [key for key, buff in found if buff is not None and buff.source_id == source_id]


async def apply(ctx: Context, message: BuffCommandApply) -> None:
    """Apply a buff; a buff of the same source is replaced (its expiry restarts)."""
    body, character_id = message.body, message.character_id
    for key in await _active(ctx, character_id, body.source_id):
        await ctx.state.buffs.remove(key)
    buff_id = await ctx.state.buffs.next_id()
    buff = {**body.model_dump(), "id": buff_id, "character_id": character_id, "applied_at": datetime.now(UTC)}
    await ctx.state.buffs.put(buff_id, buff, ttl=body.duration_ms / 1000)
    applied = {"source_id": body.source_id, "duration_ms": body.duration_ms}
    await ctx.emit(
        STATUS, {"type": "APPLIED", "character_id": character_id, "buff_id": buff_id, "body": applied}
    )


async def cancel(ctx: Context, message: BuffCommandCancel) -> None:
    """Cancel the character's buffs from one source and announce each cancellation."""
    character_id, source_id = message.character_id, message.body.source_id
    for key in await _active(ctx, character_id, source_id):
        if await ctx.state.buffs.remove(key):
            body = {"source_id": source_id}
            await ctx.emit(
                STATUS, {"type": "CANCELLED", "character_id": character_id, "buff_id": key, "body": body}
            )


_apply: BuffCommandApplyHandler = apply
_cancel: BuffCommandCancelHandler = cancel
