"""`SagaOrchestrator`: runs saga types (data) against the store, the outbox and the clock.

Each operation is one database transaction that reads the saga, asks the pure core
(`decisions.py`) for the next state, writes it with the version check, appends the
history row and stages the outgoing commands and terminal event in the outbox. A version
conflict (another replica or a redelivery wrote first) rolls all of it back, and the
operation re-reads and retries up to `SAGA_CONFLICT_RETRIES` times with full-jitter
backoff; after that the error propagates, so the consumer redelivers the event.

Any number of replicas may run at once: nothing is kept in process memory between
operations, the reaper claims overdue sagas with `FOR UPDATE SKIP LOCKED` inside its
transaction, and recovery only re-drives sagas whose next step was never sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy.ext.asyncio import AsyncSession

from atlas_runtime.db import EVENT_ID_HEADER, Database
from atlas_runtime.errors import ConfigurationError, Conflict, UnprocessableEntity
from atlas_runtime.retry import RetryPolicy
from atlas_runtime.saga import decisions, metrics
from atlas_runtime.saga.decisions import Decision, MessageKind, Outgoing, Verdict
from atlas_runtime.saga.definition import SagaDefinition
from atlas_runtime.saga.emitter import Emitter, OutboxEmitter
from atlas_runtime.saga.envelopes import event_fields, header, message_tenant, transaction_id
from atlas_runtime.saga.errors import UnknownSagaType, VersionConflictError
from atlas_runtime.saga.model import Saga
from atlas_runtime.saga.settings import SagaSettings
from atlas_runtime.saga.store import SagaStore, utcnow
from atlas_runtime.tenant import Tenant, current_tenant

log = logging.getLogger("atlas_runtime.saga")

KIND_HEADER = "SAGA_MESSAGE_KIND"
_RECOVERY_PAGE = 500


@dataclass(frozen=True, slots=True)
class StartResult:
    """The saga after `start`, and whether this call created it (False: it already existed)."""

    saga: Saga
    created: bool


class SagaOrchestrator:
    """Starts sagas, applies their status events, times them out and recovers them.

    Args:
        definitions: the saga types (`definitions_from_service(spec)`), by name or as a list.
        database: the service's database (`atlas_runtime.db.Database`).
        topics: topic token -> real topic name, for every token the saga types use.
        emitter: where outgoing messages go (default: the transactional outbox).
        settings: timeouts, reaper and retries (default: from the `SAGA_*` environment).
    """

    def __init__(
        self,
        definitions: Mapping[str, SagaDefinition] | Iterable[SagaDefinition],
        database: Database,
        *,
        topics: Mapping[str, str],
        emitter: Emitter | None = None,
        settings: SagaSettings | None = None,
    ) -> None:
        items = definitions.values() if isinstance(definitions, Mapping) else definitions
        self.definitions = {definition.name: definition for definition in items}
        self.database = database
        self.topics = dict(topics)
        self.emitter = emitter or OutboxEmitter()
        self.settings = settings or SagaSettings()
        self.store = SagaStore()
        self.stats: Counter[str] = Counter()
        self._tokens_by_topic = {topic: token for token, topic in self.topics.items()}
        self._transaction_fields = sorted({d.wire(d.transaction_field) for d in self.definitions.values()})
        self._conflict_policy = RetryPolicy(
            attempts=self.settings.conflict_retries + 1, initial=0.01, max_delay=0.2
        )
        self._stopping = asyncio.Event()
        self._check_topics()

    # -- starting -------------------------------------------------------------------

    async def start(
        self,
        saga_type: str,
        data: Mapping[str, Any] | BaseModel,
        *,
        transaction_id: uuid.UUID | None = None,
        tenant: Tenant | None = None,
        initiated_by: str = "",
    ) -> StartResult:
        """Start a saga, idempotently: an existing transaction id returns that saga unchanged.

        The saga row, its first history version and its first command commit together.

        Raises:
            UnknownSagaType: no definition has this name.
            UnprocessableEntity: the data lacks a required field.
            NoTenantError: no tenant given and none in context.
            Conflict: the transaction id belongs to a saga of another tenant.
        """
        definition = self.definition(saga_type)
        tenant = tenant or current_tenant()
        # JSON-ready values (uuids, datetimes, enums as strings): the data is stored as JSONB.
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else to_jsonable_python(data)
        missing = sorted(definition.required_data - payload.keys())
        if missing:
            raise UnprocessableEntity(f"saga {saga_type} needs data field(s) {', '.join(missing)}")
        now = utcnow()
        saga = decisions.new_saga(
            definition,
            transaction_id or uuid.uuid4(),
            tenant=tenant,
            data=payload,
            initiated_by=initiated_by,
            timeout=definition.timeout or self.settings.default_timeout,
            now=now,
        )
        decision = decisions.drive(definition, saga, now)
        async with self.database.session_across_tenants() as session:
            if await self.store.insert(session, decision.saga, now=now):
                stored = replace(decision.saga, version=1)
                await self._emit(session, stored, decision.messages)
                self._tally("started", 1)
                return StartResult(stored, created=True)
            existing = await self.store.get(session, saga.id)
        assert existing is not None
        if existing.tenant != tenant:
            # Never reveal another tenant's saga through a guessed or colliding id.
            raise Conflict(f"transaction id {saga.id} is already taken", pointer="/data/id")
        self._tally("duplicate_starts", 1)
        return StartResult(existing, created=False)

    # -- events ---------------------------------------------------------------------

    async def on_event(
        self, topic: str, envelope: Mapping[str, Any], *, headers: Sequence[tuple[str, bytes]] = ()
    ) -> Verdict:
        """Apply a status event received on `topic` (real name or token) to the saga it names.

        Duplicates, events of unknown sagas or of another tenant, and events for steps not
        yet dispatched change nothing; see `decisions.apply_event` for the rules.

        Raises:
            VersionConflictError: the saga kept changing under us through every retry.
        """
        token = self._tokens_by_topic.get(topic, topic)
        saga_id = transaction_id(envelope, self._transaction_fields)
        message_type = envelope.get("type")
        if saga_id is None or not isinstance(message_type, str):
            return self._count(Verdict.UNMATCHED)
        hint = header(headers, decisions.STEP_HEADER)
        event_tenant = message_tenant(headers)

        def decide(definition: SagaDefinition, saga: Saga) -> Decision:
            if event_tenant is not None and event_tenant != saga.tenant:
                log.warning("saga %s: event of tenant %s ignored", saga.id, event_tenant.key)
                return Decision(saga, verdict=Verdict.UNMATCHED)
            return decisions.apply_event(
                definition,
                saga,
                token=token,
                message_type=message_type,
                fields=event_fields(envelope, camel=definition.camel),
                step_hint=hint,
                now=utcnow(),
            )

        return self._count(await self._transact(saga_id, decide))

    async def on_trigger(
        self, topic: str, envelope: Mapping[str, Any], *, headers: Sequence[tuple[str, bytes]] = ()
    ) -> StartResult | None:
        """Start the saga a trigger command names; its envelope and body fields become the data.

        The transaction id is the envelope's transaction field, else the message's
        `EVENT_ID` header, so a redelivered trigger starts nothing new. None when no saga
        type is triggered by this topic and type.
        """
        token = self._tokens_by_topic.get(topic, topic)
        for definition in self.definitions.values():
            trigger = definition.trigger
            if trigger is None or trigger.topic != token or trigger.type != envelope.get("type"):
                continue
            data = event_fields(envelope, camel=definition.camel)
            raw_id = data.pop(definition.transaction_field, None) or header(headers, EVENT_ID_HEADER)
            return await self.start(
                definition.name,
                data,
                transaction_id=uuid.UUID(str(raw_id)) if raw_id else None,
                tenant=message_tenant(headers),
                initiated_by=f"trigger:{token}",
            )
        return None

    # -- reaper, recovery, retention --------------------------------------------------

    async def reap_once(self) -> int:
        """Compensate sagas past their deadline; returns how many this replica claimed.

        Claimed rows stay locked until the transaction commits, so with several replicas
        each overdue saga is timed out by exactly one of them.
        """
        total = 0
        while True:
            now = utcnow()
            async with self.database.session_across_tenants() as session:
                claimed = await self.store.claim_timed_out(
                    session, now=now, limit=self.settings.reaper_batch, saga_types=list(self.definitions)
                )
                for saga in claimed:
                    decision = decisions.time_out(self.definition(saga.saga_type), saga, now)
                    await self._write(session, decision, now)
            total += len(claimed)
            self._tally("timed_out", len(claimed))
            if len(claimed) < self.settings.reaper_batch:
                return total

    async def recover(self) -> int:
        """Drive every active or compensating saga on; returns how many changed.

        A saga waiting for its in-flight step's event is left alone (its command was
        sent in the transaction that recorded it); one whose next step was never sent,
        or that should have finished, is moved on.
        """
        changed = 0
        after: uuid.UUID | None = None
        while True:
            async with self.database.session_across_tenants() as session:
                ids = await self.store.running_ids(
                    session, after=after, limit=_RECOVERY_PAGE, saga_types=list(self.definitions)
                )
            for saga_id in ids:
                verdict = await self._transact(
                    saga_id, lambda definition, saga: decisions.drive(definition, saga, utcnow())
                )
                changed += verdict is Verdict.ADVANCED
            if len(ids) < _RECOVERY_PAGE:
                self._tally("recovered", changed)
                return changed
            after = ids[-1]

    async def sweep(self) -> int:
        """Delete finished sagas older than `SAGA_RETENTION`; returns how many."""
        before = utcnow() - self.settings.retention
        total = 0
        while True:
            async with self.database.session_across_tenants() as session:
                deleted = await self.store.sweep(session, before=before, limit=1000)
            total += deleted
            if deleted < 1000:
                return total

    async def run(self) -> None:
        """Recover (when `SAGA_RECOVERY_ENABLED`), then reap every `SAGA_REAPER_INTERVAL` until `stop()`.

        The retention sweep runs on the first reaper pass and hourly after that.
        """
        self._stopping.clear()
        if self.settings.recovery_enabled:
            await self._guarded("recovery", self.recover)
        interval = self.settings.reaper_interval.total_seconds()
        sweep_every = max(1, int(3600 / max(interval, 0.001)))
        passes = 0
        while not self._stopping.is_set():
            await self._guarded("reaper", self.reap_once)
            if passes % sweep_every == 0:
                await self._guarded("retention sweep", self.sweep)
            passes += 1
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
            except TimeoutError:
                continue

    def stop(self) -> None:
        """Ask `run()` to return after the pass in flight."""
        self._stopping.set()

    # -- reading ----------------------------------------------------------------------

    async def get(self, saga_id: uuid.UUID) -> Saga | None:
        """The saga with this id, whatever its tenant or status."""
        async with self.database.session_across_tenants() as session:
            return await self.store.get(session, saga_id)

    def definition(self, saga_type: str) -> SagaDefinition:
        """The definition of `saga_type`; raises `UnknownSagaType`."""
        try:
            return self.definitions[saga_type]
        except KeyError:
            raise UnknownSagaType(saga_type, list(self.definitions)) from None

    def router(self) -> APIRouter:
        """The FastAPI router of `/api/sagas` (see `atlas_runtime.saga.router`)."""
        from atlas_runtime.saga.router import saga_router

        return saga_router(self)

    # -- internals ------------------------------------------------------------------------

    async def _transact(
        self, saga_id: uuid.UUID, decide: Callable[[SagaDefinition, Saga], Decision]
    ) -> Verdict:
        """Read, decide, write: retried on version conflicts with a fresh read each time."""
        policy = self._conflict_policy
        for attempt in range(1, policy.attempts + 1):
            try:
                async with self.database.session_across_tenants() as session:
                    saga = await self.store.get(session, saga_id)
                    if saga is None or saga.saga_type not in self.definitions:
                        return Verdict.UNMATCHED
                    decision = decide(self.definitions[saga.saga_type], saga)
                    if decision.changed:
                        await self._write(session, decision, utcnow())
                    return decision.verdict
            except VersionConflictError:
                self._tally("conflicts", 1)
                if attempt == policy.attempts:
                    raise
                self._tally("conflict_retries", 1)
                await asyncio.sleep(policy.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _write(self, session: AsyncSession, decision: Decision, now: Any) -> None:
        saga = await self.store.update(session, decision.saga, now=now)
        await self._emit(session, saga, decision.messages)

    async def _emit(self, session: AsyncSession, saga: Saga, messages: Sequence[Outgoing]) -> None:
        for message in messages:
            headers = [*saga.tenant.kafka_headers(), (KIND_HEADER, message.kind.value.encode())]
            if message.step is not None:
                headers.append((decisions.STEP_HEADER, message.step.encode()))
            value = json.dumps(message.envelope, separators=(",", ":"), default=str).encode()
            await self.emitter.emit(session, self.topics[message.token], message.key, value, headers)
            if message.kind is MessageKind.TERMINAL:
                self._tally(f"terminal_{saga.status.value}", 1)

    def _count(self, verdict: Verdict) -> Verdict:
        self._tally(f"event_{verdict.value}", 1)
        return verdict

    def _tally(self, stat: str, amount: int) -> None:
        """Count in `stats` (this instance) and in the Prometheus metrics (the process)."""
        self.stats[stat] += amount
        metrics.record(self.database.service, stat, amount)

    def _check_topics(self) -> None:
        wanted = set().union(*(d.topic_tokens() for d in self.definitions.values()))
        missing = sorted(wanted - self.topics.keys())
        if missing:
            raise ConfigurationError(f"saga topic token(s) without a topic name: {', '.join(missing)}")

    async def _guarded(self, what: str, work: Callable[[], Awaitable[int]]) -> None:
        try:
            count = await work()
        except Exception as error:  # the loop survives a failed pass; the next one retries
            log.warning("saga %s pass failed: %r", what, error)
            return
        if count:
            log.info("saga %s: %d saga(s)", what, count)
