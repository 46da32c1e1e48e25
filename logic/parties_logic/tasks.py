"""Periodic tasks of the parties service."""

from __future__ import annotations

from atlas_parties.protocols import Context, ExpireInvitesTask


async def expire(ctx: Context) -> None:
    """Claim the invites that expired (each one exactly once across replicas) and log them."""
    for invite_id, invite in await ctx.state.invites.pop_expired():
        ctx.log.info(
            "invite expired", invite_id=invite_id, party_id=invite.party_id, target_id=invite.target_id
        )


_expire: ExpireInvitesTask = expire
