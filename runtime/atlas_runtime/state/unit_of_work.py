"""Units of work: all state changes of one message handled in one atomic commit.

While a `UnitOfWork` is active (in a context variable), registry writes of its
backend are staged instead of sent, reads see the staged writes, and every key read
is watched. `commit(extras)` then applies the staged writes plus the caller's extra
commands (an inbox marker `SetValue`, an outbox `PushValues`) in ONE MULTI/EXEC on
Redis (one atomic step in process). If any watched key changed meanwhile, commit
raises `StateConflict` and nothing is applied: run the handler again.

    async with UnitOfWork(store.backend) as uow:
        if await uow.read(inbox_key) is None:
            await handle(message)                 # registry calls are staged here
            await uow.commit([SetValue(inbox_key, "1", ttl_ms=86_400_000)])

Leaving the block without `commit` discards the staged writes. Iteration (`values`,
`items`), `count`, `lookup`, `next_id`, `pop_expired` and locks are not staged: they act
on committed state immediately.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar, Token
from types import TracebackType

from atlas_runtime.errors import UniqueIndexConflict
from atlas_runtime.state.backend import ExtraCommand, PutOp, RemoveOp, StateBackend, StateOp

_active: ContextVar[UnitOfWork | None] = ContextVar("atlas_unit_of_work", default=None)


def active_unit_of_work() -> UnitOfWork | None:
    """The unit of work of the running handler, if any."""
    return _active.get()


class UnitOfWork:
    """Staged writes and watched reads against one backend; see the module docstring."""

    def __init__(self, backend: StateBackend) -> None:
        self.backend = backend
        self._transaction = backend.begin()
        self._ops: list[StateOp] = []
        self._staged: dict[str, str | None] = {}
        self._token: Token[UnitOfWork | None] | None = None
        self.committed = False

    async def __aenter__(self) -> UnitOfWork:
        if self._token is not None:
            raise RuntimeError("this unit of work is already active; create one per attempt")
        self._token = _active.set(self)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _active.reset(self._token)
            self._token = None
        await self._transaction.aclose()

    @property
    def staged(self) -> Sequence[StateOp]:
        """The writes waiting for commit, in order."""
        return tuple(self._ops)

    async def read(self, key: str) -> str | None:
        """The value of `key` as this unit sees it (staged, else stored and watched)."""
        if key in self._staged:
            return self._staged[key]
        return await self._transaction.read(key)

    async def read_many(self, keys: Sequence[str]) -> list[str | None]:
        """The values of `keys` as this unit sees them; the stored ones are read and watched at once."""
        stored = [key for key in keys if key not in self._staged]
        found = dict(zip(stored, await self._transaction.read_many(stored), strict=True))
        return [self._staged[key] if key in self._staged else found[key] for key in keys]

    async def stage_put(self, op: PutOp) -> None:
        """Stage a put; unique indexes are checked now (and their sets watched)."""
        self._check_open()
        for entry in op.indexes:
            if not entry.unique:
                continue
            for owner in await self._transaction.read_set(entry.key):
                if owner != op.member and await self.read(op.space.entity(owner)) is not None:
                    raise UniqueIndexConflict(entry.name, entry.value, owner)
        self._ops.append(op)
        self._staged[op.space.entity(op.member)] = op.value

    async def stage_remove(self, op: RemoveOp) -> bool:
        """Stage a remove; True if the entry exists as this unit sees it."""
        self._check_open()
        existed = await self.read(op.space.entity(op.member)) is not None
        self._ops.append(op)
        self._staged[op.space.entity(op.member)] = None
        return existed

    async def commit(self, extras: Sequence[ExtraCommand] = ()) -> None:
        """Apply staged writes and `extras` atomically; raise `StateConflict` on a watched change."""
        self._check_open()
        await self._transaction.commit(self._ops, extras)
        self.committed = True

    def _check_open(self) -> None:
        if self.committed:
            raise RuntimeError("this unit of work has already committed")
