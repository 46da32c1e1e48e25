"""Periodic tasks of the buffs service."""

from __future__ import annotations

from atlas_buffs.protocols import Context, ExpireBuffsTask


async def expire(ctx: Context) -> None:
    """Announce the buffs whose duration ran out (each claimed by exactly one replica)."""
    for buff_id, buff in await ctx.state.buffs.pop_expired():
        await ctx.emit(
            "EVENT_TOPIC_CHARACTER_BUFF_STATUS",
            {
                "type": "EXPIRED",
                "character_id": buff.character_id,
                "buff_id": buff_id,
                "body": {"source_id": buff.source_id},
            },
        )


_expire: ExpireBuffsTask = expire
