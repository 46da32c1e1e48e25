"""Reactions to the parties service's status events."""

from __future__ import annotations

from atlas_buffs.messages import PartyStatusLeft
from atlas_buffs.protocols import Context, PartyStatusLeftHandler


async def member_left(ctx: Context, message: PartyStatusLeft) -> None:
    """End the party-wide buffs of a character who left the party."""
    for key in await ctx.state.buffs.lookup("character", message.actor_id):
        buff = await ctx.state.buffs.get(key)
        if buff is not None and buff.party_id == message.party_id and await ctx.state.buffs.remove(key):
            body = {"source_id": buff.source_id}
            await ctx.emit(
                "EVENT_TOPIC_CHARACTER_BUFF_STATUS",
                {"type": "CANCELLED", "character_id": buff.character_id, "buff_id": key, "body": body},
            )


_member_left: PartyStatusLeftHandler = member_left
