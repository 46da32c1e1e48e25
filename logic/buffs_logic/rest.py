"""REST handlers of the buffs service."""

from __future__ import annotations

from atlas_buffs.models import BuffDefinition
from atlas_buffs.protocols import Context, PutDefinitionsIdHandler

from atlas_runtime.errors import BadRequest
from atlas_runtime.service.protocols import Request


async def define(ctx: Context, request: Request[BuffDefinition]) -> BuffDefinition:
    """Create or replace a buff definition shared by every tenant; the path id must match the body."""
    definition_id = request.params["id"]
    if request.body.id != definition_id:
        raise BadRequest(
            f"body id {request.body.id} differs from the path id {definition_id}", pointer="/data/id"
        )
    await ctx.state.definitions.put(definition_id, request.body)
    return request.body


_define: PutDefinitionsIdHandler = define
