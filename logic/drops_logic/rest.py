"""REST handlers of the drops service."""

from __future__ import annotations

from datetime import UTC, datetime

from atlas_drops.models import Drop, DropCreate
from atlas_drops.protocols import Context, PostDropsHandler

from atlas_runtime.service.protocols import Request


async def create(ctx: Context, request: Request[DropCreate]) -> Drop:
    """Place a drop on a map directly (tools and tests); returns the stored drop."""
    drop_id = await ctx.state.drops.next_id()
    drop = Drop(**request.body.model_dump(), id=drop_id, dropped_at=datetime.now(UTC))
    await ctx.state.drops.put(drop_id, drop)
    return drop


_create: PostDropsHandler = create
