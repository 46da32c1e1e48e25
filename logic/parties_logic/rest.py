"""REST handlers of the parties service."""

from __future__ import annotations

from atlas_parties.models import Member, PartyCreate
from atlas_parties.protocols import Context, GetPartiesIdMembersHandler, PostPartiesHandler

from atlas_runtime.errors import Conflict, NotFound
from atlas_runtime.service.protocols import Request


async def create(ctx: Context, request: Request[PartyCreate]) -> None:
    """Create a party for the leader in the body (202: the party id is announced by event)."""
    leader = request.body.leader_id
    if await ctx.state.parties.lookup("member", leader):
        raise Conflict(f"character {leader} already belongs to a party")
    party_id = await ctx.state.parties.next_id()
    await ctx.state.parties.put(party_id, {"id": party_id, "leader_id": leader, "members": [leader]})
    await ctx.emit(
        "EVENT_TOPIC_PARTY_STATUS", {"type": "CREATED", "actor_id": leader, "party_id": party_id, "body": {}}
    )


async def members(ctx: Context, request: Request[None]) -> list[Member]:
    """The members of a party that have a character record, in party order."""
    party = await ctx.state.parties.get(int(request.params["id"]))
    if party is None:
        raise NotFound(f"party {request.params['id']} does not exist")
    found = [await ctx.state.characters.get(member_id) for member_id in party.members]
    return [member for member in found if member is not None]


_create: PostPartiesHandler = create
_members: GetPartiesIdMembersHandler = members
