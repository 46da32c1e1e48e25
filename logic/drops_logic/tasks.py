"""Periodic tasks of the drops service."""

from __future__ import annotations

from atlas_drops.protocols import Context, ExpireDropsTask


async def expire(ctx: Context) -> None:
    """Remove drops whose time on the map ran out and announce each one once."""
    for drop_id, drop in await ctx.state.drops.pop_expired():
        await ctx.emit(
            "EVENT_TOPIC_DROP_STATUS",
            {"type": "EXPIRED", "actor_id": 0, "map_id": drop.map_id, "drop_id": drop_id, "body": {}},
        )
    for drop_id, _ in await ctx.state.reservations.pop_expired():
        await ctx.state.drops.update(drop_id, lambda d: d.model_copy(update={"reserved_by": None}))


_expire: ExpireDropsTask = expire
