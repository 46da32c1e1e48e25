"""Periodic tasks: every `every` seconds, once per tenant that has state, optionally on one replica.

A task run never stops the loop: a failing handler is logged with the task and tenant
and the next tick runs as planned. `leader_only` tasks run inside a leader election, so
exactly one replica runs them at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from atlas_runtime.service.context import run_handler
from atlas_runtime.service.description import TaskDecl
from atlas_runtime.state import StateStore
from atlas_runtime.tenant import Tenant, as_tenant

log = logging.getLogger("atlas_runtime.service.tasks")

# A cancel can be lost inside a client library (turned into a connection error and
# retried); stop() therefore cancels again, a bounded number of times.
_STOP_ROUNDS = 20
_STOP_WAIT = 0.5

ContextFor = Callable[[Tenant], Any]
TenantSource = Callable[[], Awaitable[list[Tenant]]]
Handler = Callable[[Any], Awaitable[None]]


async def run_once(decl: TaskDecl, handler: Handler, tenants: TenantSource, context_for: ContextFor) -> int:
    """One tick: the handler once per tenant; returns how many runs failed."""
    failures = 0
    for tenant in await tenants():
        with as_tenant(tenant):
            try:
                await run_handler(handler, context_for(tenant))
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("task %s failed for tenant %s", decl.name, tenant.key)
    return failures


async def run_every(decl: TaskDecl, handler: Handler, tenants: TenantSource, context_for: ContextFor) -> None:
    """Tick forever, `decl.every` seconds apart (measured start to start, never overlapping)."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        try:
            await run_once(decl, handler, tenants, context_for)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task %s could not list tenants", decl.name)
        await asyncio.sleep(max(0.0, decl.every - (loop.time() - started)))


class TaskRunner:
    """The running tasks of one service."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._tasks: list[asyncio.Future[None]] = []

    def start(self, decl: TaskDecl, handler: Handler, tenants: TenantSource, context_for: ContextFor) -> None:
        """Start ticking `decl` in the background."""
        if decl.leader_only:
            election = self._store.leader_election(f"task:{decl.name}", ttl=max(5.0, 3 * decl.every))
            coro: Awaitable[None] = election.run(lambda: run_every(decl, handler, tenants, context_for))
        else:
            coro = run_every(decl, handler, tenants, context_for)
        self._tasks.append(asyncio.ensure_future(coro))

    async def stop(self) -> None:
        """Cancel every task and wait for them, cancelling again any that swallowed the cancel."""
        pending = set(self._tasks)
        self._tasks.clear()
        for _ in range(_STOP_ROUNDS):
            if not pending:
                return
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=_STOP_WAIT)
        log.error("%d task(s) ignored cancellation and were abandoned", len(pending))
