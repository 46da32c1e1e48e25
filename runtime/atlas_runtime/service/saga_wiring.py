"""Saga orchestration of a generated service, on `atlas_runtime.saga`.

The definitions come from the spec sections the generated `sagas.py` carries. At start
the orchestrator is bound to the service's database (its tables are migrated with the
service's), subscribed to its completion and trigger topics on the service's consumer,
and its recovery and reaper loop runs in the background. Its commands leave through
the transactional outbox, which the service drains.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from atlas_runtime.db import Database
from atlas_runtime.saga import (
    SagaDefinition,
    SagaOrchestrator,
    definitions_from_service,
    saga_metadata,
    subscribe,
)
from atlas_spec import ServiceSpec


class ServiceSagas:
    """The saga types of one service and, once started, their orchestrator."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.definitions: dict[str, SagaDefinition] = definitions_from_service(
            ServiceSpec.model_validate(spec)
        )
        self.orchestrator: SagaOrchestrator | None = None
        self._running: asyncio.Task[None] | None = None

    @property
    def tokens(self) -> set[str]:
        """Every topic token the saga types send to or listen on."""
        return set().union(*(d.topic_tokens() for d in self.definitions.values()))

    @property
    def metadata(self) -> Any:
        """The saga tables, migrated with the service's own."""
        return saga_metadata

    def bind(self, database: Database, topics: Mapping[str, str], consumer: Any) -> None:
        """Create the orchestrator on `database` and subscribe it (before the consumer starts)."""
        self.orchestrator = SagaOrchestrator(self.definitions, database, topics=topics)
        subscribe(consumer, self.orchestrator)

    def router(self) -> APIRouter:
        """`/sagas` routes of the bound orchestrator."""
        assert self.orchestrator is not None, "bind() first"
        return self.orchestrator.router()

    def start(self) -> None:
        """Run recovery, then the reaper, in the background."""
        assert self.orchestrator is not None, "bind() first"
        self._running = asyncio.create_task(self.orchestrator.run(), name="atlas-saga-orchestrator")

    async def stop(self) -> None:
        """Stop the reaper after its pass in flight."""
        if self.orchestrator is None or self._running is None:
            return
        self.orchestrator.stop()
        try:
            await asyncio.wait_for(self._running, 10.0)
        except TimeoutError:
            self._running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._running
        self._running = None
