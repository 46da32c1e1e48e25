"""Kafka command handlers of COMMAND_TOPIC_DROP."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from atlas_drops.messages import (
    DropCommandCancelReservation,
    DropCommandEnvelope,
    DropCommandPickUp,
    DropCommandReserve,
    DropCommandSpawn,
)
from atlas_drops.protocols import (
    Context,
    DropCommandCancelReservationHandler,
    DropCommandPickUpHandler,
    DropCommandReserveHandler,
    DropCommandSpawnHandler,
)
from atlas_drops.tables import Pickups

STATUS = "EVENT_TOPIC_DROP_STATUS"


def _status(message: DropCommandEnvelope, drop_id: int, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "actor_id": message.actor_id,
        "map_id": message.map_id,
        "drop_id": drop_id,
        "transaction_id": message.transaction_id,
        "body": body,
    }


async def spawn(ctx: Context, message: DropCommandSpawn) -> None:
    """Put a new drop on the map and announce it."""
    body = message.body
    drop_id = await ctx.state.drops.next_id()
    drop = {**body.model_dump(), "id": drop_id, "map_id": message.map_id, "dropped_at": datetime.now(UTC)}
    await ctx.state.drops.put(drop_id, drop)
    spawned = {
        "item_id": body.item_id,
        "quantity": body.quantity,
        "meso": body.meso,
        "x": body.x,
        "y": body.y,
    }
    await ctx.emit(STATUS, _status(message, drop_id, "SPAWNED", spawned))


async def reserve(ctx: Context, message: DropCommandReserve) -> None:
    """Reserve a drop for the actor; a drop already reserved or gone is a RESERVATION_FAILED event."""
    drop_id = message.body.drop_id
    async with ctx.locks.drop(drop_id):
        drop = await ctx.state.drops.get(drop_id)
        free = drop is not None and drop.reserved_by is None and drop.owner_id in (None, message.actor_id)
        if free:
            await ctx.state.drops.update(
                drop_id, lambda d: d.model_copy(update={"reserved_by": message.actor_id})
            )
            reservation = {
                "drop_id": drop_id,
                "character_id": message.actor_id,
                "transaction_id": message.transaction_id,
            }
            await ctx.state.reservations.put(drop_id, reservation)
    if free:
        await ctx.emit(STATUS, _status(message, drop_id, "RESERVED", {}))
    else:
        reason = "gone" if drop is None else "taken"
        await ctx.emit(STATUS, _status(message, drop_id, "RESERVATION_FAILED", {"reason": reason}))


async def cancel_reservation(ctx: Context, message: DropCommandCancelReservation) -> None:
    """Release the actor's reservation of a drop, if it holds one."""
    drop_id = message.body.drop_id
    async with ctx.locks.drop(drop_id):
        reservation = await ctx.state.reservations.get(drop_id)
        if reservation is None or reservation.character_id != message.actor_id:
            return
        await ctx.state.reservations.remove(drop_id)
        await ctx.state.drops.update(drop_id, lambda d: d.model_copy(update={"reserved_by": None}))


async def pick_up(ctx: Context, message: DropCommandPickUp) -> None:
    """Pick up a drop reserved by the actor: record it and announce it in one transaction."""
    drop_id = message.body.drop_id
    async with ctx.locks.drop(drop_id):
        drop = await ctx.state.drops.get(drop_id)
        if drop is None or drop.reserved_by != message.actor_id or not await ctx.state.drops.remove(drop_id):
            return
        await ctx.state.reservations.remove(drop_id)
    # a drop is picked up once, so its id is the pickup's; ctx.db commits with the outbox event
    ctx.db.add(
        Pickups(
            id=drop_id,
            drop_id=drop_id,
            character_id=message.actor_id,
            item_id=drop.item_id,
            quantity=drop.quantity,
            meso=drop.meso,
            picked_at=datetime.now(UTC),
        )
    )
    body = {"item_id": drop.item_id, "quantity": drop.quantity, "meso": drop.meso}
    await ctx.emit(STATUS, _status(message, drop_id, "PICKED_UP", body))


_spawn: DropCommandSpawnHandler = spawn
_reserve: DropCommandReserveHandler = reserve
_cancel_reservation: DropCommandCancelReservationHandler = cancel_reservation
_pick_up: DropCommandPickUpHandler = pick_up
