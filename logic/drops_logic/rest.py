"""REST handlers of the drops service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


async def create(ctx: Any, request: Any) -> Any:
    """Place a drop on a map directly (tools and tests); returns the stored drop."""
    drop_id = await ctx.state.drops.next_id()
    drop = {**request.body.model_dump(), "id": drop_id, "dropped_at": datetime.now(UTC)}
    await ctx.state.drops.put(drop_id, drop)
    return await ctx.state.drops.get(drop_id)
