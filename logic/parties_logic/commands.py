"""Kafka command handlers of COMMAND_TOPIC_PARTY."""

from __future__ import annotations

from atlas_parties.messages import PartyCommandCreate, PartyCommandJoin, PartyCommandLeave
from atlas_parties.models import Party
from atlas_parties.protocols import (
    Context,
    PartyCommandCreateHandler,
    PartyCommandJoinHandler,
    PartyCommandLeaveHandler,
)

STATUS = "EVENT_TOPIC_PARTY_STATUS"


async def create(ctx: Context, message: PartyCommandCreate) -> None:
    """Create a party led by the actor, unless the actor already belongs to one."""
    actor = message.actor_id
    if await ctx.state.parties.lookup("member", actor):
        ctx.log.info("party not created: character already in a party", character_id=actor)
        return
    party_id = await ctx.state.parties.next_id()
    await ctx.state.parties.put(party_id, {"id": party_id, "leader_id": actor, "members": [actor]})
    await ctx.state.characters.update(actor, lambda member: member.model_copy(update={"party_id": party_id}))
    await ctx.emit(STATUS, {"type": "CREATED", "actor_id": actor, "party_id": party_id, "body": {}})


async def join(ctx: Context, message: PartyCommandJoin) -> None:
    """Add the actor to the party named in the body; a full party or a missing one is logged."""
    actor, party_id = message.actor_id, message.body.party_id

    def add_member(party: Party) -> Party:
        if actor in party.members:
            return party
        return party.model_copy(update={"members": [*party.members, actor]})

    async with ctx.locks.party(party_id):
        party = await ctx.state.parties.update(party_id, add_member)
    if party is None:
        ctx.log.info("join ignored: no such party", party_id=party_id)
        return
    await ctx.state.characters.update(actor, lambda member: member.model_copy(update={"party_id": party_id}))
    await ctx.emit(STATUS, {"type": "JOINED", "actor_id": actor, "party_id": party_id, "body": {}})


async def leave(ctx: Context, message: PartyCommandLeave) -> None:
    """Remove the actor from the party; the next member leads, an empty party is disbanded."""
    actor, party_id = message.actor_id, message.body.party_id

    def remove_member(party: Party) -> Party:
        members = [member for member in party.members if member != actor]
        leader = party.leader_id if party.leader_id != actor or not members else members[0]
        return party.model_copy(update={"members": members, "leader_id": leader})

    async with ctx.locks.party(party_id):
        party = await ctx.state.parties.update(party_id, remove_member)
        if party is not None and not party.members:
            await ctx.state.parties.remove(party_id)
    if party is None:
        return
    await ctx.state.characters.update(actor, lambda member: member.model_copy(update={"party_id": None}))
    body = {"force": message.body.force}
    await ctx.emit(STATUS, {"type": "LEFT", "actor_id": actor, "party_id": party_id, "body": body})


_create: PartyCommandCreateHandler = create
_join: PartyCommandJoinHandler = join
_leave: PartyCommandLeaveHandler = leave
