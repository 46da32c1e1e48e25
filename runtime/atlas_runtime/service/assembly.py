"""`Service`: a generated service's description, assembled into a running service.

    service = Service(SERVICE)               # settings read once from the environment
    app = service.create_app()               # FastAPI; its lifespan starts and stops the service
    async with service: ...                  # or drive start()/stop() directly (tests, `up`)

The service owns its state backend (Redis, or in-process when `REDIS_URL` is unset),
builds one handler `Context` per request, message and task run, runs the periodic tasks
and, when a messaging port is given, its consumers and producer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Protocol

from fastapi import FastAPI

from atlas_runtime.auth.service_tokens import token_source_from_settings
from atlas_runtime.auth.settings import AuthSettings
from atlas_runtime.errors import ConfigurationError
from atlas_runtime.http import ServiceClients
from atlas_runtime.rest.app import BASE_PATH, create_app, readiness_of
from atlas_runtime.rest.handlers import Request
from atlas_runtime.rest.health import ReadinessCheck
from atlas_runtime.rest.settings import RestSettings
from atlas_runtime.service.context import Context, Emitter, Namespace
from atlas_runtime.service.db_wiring import ServiceDatabase
from atlas_runtime.service.description import ServiceDescription
from atlas_runtime.service.messaging_wiring import ServiceMessaging
from atlas_runtime.service.refs import resolve
from atlas_runtime.service.routes import build_endpoint
from atlas_runtime.service.saga_wiring import ServiceSagas
from atlas_runtime.service.settings import ServiceSettings, load_settings
from atlas_runtime.service.state_wiring import StateWiring
from atlas_runtime.service.tasks import TaskRunner
from atlas_runtime.state.backend import StateBackend
from atlas_runtime.tenant import Tenant

log = logging.getLogger("atlas_runtime.service")


class MessagingPort(Emitter, Protocol):
    """The Kafka side of a service: consumers of `consumes`, the producer of `produces`."""

    async def start(self, service: Service) -> None: ...
    async def stop_consuming(self) -> None: ...
    async def stop(self) -> None: ...


# The clients of `calls:` exist while the service runs; a read-only namespace can be shared.
_NO_CALLS: Namespace[Any] = Namespace("called service", {})


class Service:
    """A running service assembled from its generated description.

    Args:
        description: the generated package's `SERVICE`.
        settings: the service's settings (default: read once from `os.environ` with
            `environ` laid over it); its `REDIS_URL` and `BOOTSTRAP_SERVERS` choose the backends.
        environ: variables laid over `os.environ` for the settings, the topic tokens and the
            key prefix (`ATLAS_ENV`).
        backend: a state backend to use instead of the one `REDIS_URL` selects.
        messaging: the Kafka side; by default built from the spec's consumes/produces
            (Kafka with `BOOTSTRAP_SERVERS`, else the in-process bus).

    Raises:
        ConfigurationError: a setting is missing or invalid (every one named at once).
    """

    def __init__(
        self,
        description: ServiceDescription,
        *,
        settings: ServiceSettings | None = None,
        environ: Mapping[str, str] | None = None,
        backend: StateBackend | None = None,
        messaging: MessagingPort | None = None,
    ) -> None:
        self.description = description
        loaded = settings if settings is not None else load_settings(description.settings, environ)
        if not isinstance(loaded, ServiceSettings):
            raise ConfigurationError(f"{description.name}: settings must derive from ServiceSettings")
        self.settings = loaded
        self.environ = {**os.environ, **(environ or {})}
        # the settings name the backends, also when passed in explicitly
        addresses = {"REDIS_URL": loaded.redis_url, "BOOTSTRAP_SERVERS": loaded.bootstrap_servers}
        for name, address in addresses.items():
            if address:
                self.environ[name] = address
            else:
                self.environ.pop(name, None)
        self._owns_backend = backend is None
        self.state = StateWiring.build(description, self.environ, backend)
        self.sagas = ServiceSagas(description.sagas) if description.sagas else None
        if messaging is None and (description.consumes or description.produces or self.sagas):
            messaging = ServiceMessaging(
                description,
                consumer_group=self.settings.kafka_consumer_group,
                environ=self.environ,
                state=self.state.store,
                extra_tokens=self.sagas.tokens if self.sagas else (),
            )
        self.messaging = messaging
        self._tasks = TaskRunner(self.state.store)
        self._clients: ServiceClients | None = None
        self.database: ServiceDatabase | None = None
        self._calls: Namespace[Any] = _NO_CALLS
        self._registries = Namespace("registry", self.state.registries)
        self._locks = Namespace("lock", self.state.locks)
        self._produces = {p.token: (p.message, p.key, p.via) for p in description.produces}
        self.running = False

    # -- handler context ----------------------------------------------------------

    def context(
        self,
        tenant: Tenant | None = None,
        *,
        emitter: Emitter | None = None,
        record: Any = None,
        inbox_claim: tuple[str, str] | None = None,
        **log_fields: Any,
    ) -> Context:
        """A handler context for `tenant` (default: the tenant bound in the current context).

        Args:
            tenant: the tenant; None reads the one bound in the current context.
            emitter: where `ctx.emit` publishes (default: the service's producer).
            record: the consumed Kafka record, for message handlers.
            inbox_claim: (consumer group, message id) claimed in the database's inbox.
            log_fields: extra fields of `ctx.log` (message coordinates, route).
        """
        return Context(
            service=self.description.name,
            tenant=tenant,
            state=self._registries,
            locks=self._locks,
            calls=self._calls,
            produces=self._produces,
            emitter=emitter or self.messaging,
            builder=self._producer,
            sessions=self.database.sessions if self.database else None,
            record=record,
            inbox_claim=inbox_claim,
            log_fields=log_fields,
        )

    def _request_context(self, request: Request) -> Context:
        return self.context(request.tenant, route=f"{request.raw.method} {request.raw.url.path}")

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Start, in order: clients, database, messaging, outbox drainer and inbox sweep, sagas, tasks.

        Idempotent.
        """
        if self.running:
            return
        handlers = {t.name: resolve(t.handler, where=f"task {t.name}") for t in self.description.tasks}
        self._start_clients()
        await self._open_database()
        if self.messaging is not None:
            await self.messaging.start(self)
        self._start_outbox()
        self._start_inbox_sweeper()
        if self.sagas is not None:
            self.sagas.start()
        for decl in self.description.tasks:
            self._tasks.start(decl, handlers[decl.name], self.state.tenants, self.context)
        self.running = True
        log.info("service %s started", self.description.name)

    async def stop(self) -> None:
        """Stop tasks, sagas, messaging, database, clients, then state (idempotent)."""
        if not self.running:
            return
        self.running = False
        await self._tasks.stop()
        if self.sagas is not None:
            await self.sagas.stop()
        if self.messaging is not None:
            await self.messaging.stop()
        if self.database is not None:
            await self.database.close()
            self.database = None
        if self._clients is not None:
            await self._clients.aclose()
            self._clients, self._calls = None, _NO_CALLS
        await self.state.close(backend=self._owns_backend)
        log.info("service %s stopped", self.description.name)

    async def stop_consuming(self) -> None:
        """Stop taking work that is not a request: periodic tasks and consumers (drained, committed).

        Runs when shutdown begins (SIGTERM), while requests in flight are still answered.
        """
        await self._tasks.stop()
        if self.messaging is not None:
            await self.messaging.stop_consuming()

    async def _open_database(self) -> None:
        """Connect and migrate the service's tables (and the saga tables when it orchestrates)."""
        if self.description.database is None:
            return
        extra = [self.sagas.metadata] if self.sagas else []
        self.database = await ServiceDatabase.open(
            self.description.name, self.description.database, extra_metadata=extra
        )

    def _start_outbox(self) -> None:
        """Drain the transactional outbox when events (or saga commands) go through it."""
        decl = self.description.database
        if self.database is None or decl is None or not (decl.outbox or self.sagas):
            return
        send = self._producer.send if self._producer is not None else None
        self.database.start_drainer(bootstrap_servers=self.settings.bootstrap_servers, send=send)

    def _start_inbox_sweeper(self) -> None:
        """Message handlers claim messages in the database's inbox: keep it to its retention."""
        if self.database is not None and self.description.consumes:
            self.database.start_inbox_sweeper()

    @property
    def _producer(self) -> Any:
        """The messaging producer (builds and sends envelopes), when the service has one."""
        return self.messaging.messaging.producer if isinstance(self.messaging, ServiceMessaging) else None

    def _start_clients(self) -> None:
        """One REST client per called service (`<NAME>_SERVICE_URL`, else `BASE_SERVICE_URL`)."""
        if not self.description.calls:
            return
        tokens = token_source_from_settings(AuthSettings(), service=self.description.name)
        self._clients = ServiceClients(token_source=tokens)
        clients = {call.service: self._clients.get(call.service) for call in self.description.calls}
        self._calls = Namespace("called service", clients)

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- REST -------------------------------------------------------------------------

    def create_app(self, *, rest: RestSettings | None = None, auth: AuthSettings | None = None) -> FastAPI:
        """The FastAPI app of the service; its lifespan runs `start()` and `stop()`.

        Raises:
            ConfigurationError: a handler reference cannot be imported, or auth has no keys.
        """
        registries = self.state.registries
        endpoints = [build_endpoint(decl, registries.__getitem__) for decl in self.description.endpoints]

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            self.mount_sagas(app)
            try:
                yield
            finally:
                await self.stop()

        app = create_app(
            self.description.name,
            endpoints=endpoints,
            context=self._request_context,
            readiness_checks=self._readiness_checks(),
            settings=rest,
            auth=auth,
            lifespan=lifespan,
        )
        readiness_of(app).on_drain(self.stop_consuming)
        return app

    def mount_sagas(self, app: FastAPI) -> None:
        """Serve `/api/sagas` of the started orchestrator (its routes need the database)."""
        if self.sagas is not None and self.sagas.orchestrator is not None:
            app.include_router(self.sagas.router(), prefix=BASE_PATH)

    def _readiness_checks(self) -> dict[str, ReadinessCheck]:
        """Redis (or the in-process state), and the broker and database the service uses."""
        checks: dict[str, ReadinessCheck] = {"state": self._state_ready}
        if self._producer is not None:
            checks["kafka"] = self._kafka_ready
        if self.description.database is not None:
            checks["database"] = self._database_ready
        return checks

    async def _kafka_ready(self) -> bool:
        await self._producer.ping()
        return True

    async def _database_ready(self) -> bool:
        if self.database is None:
            return False
        await self.database.database.ping()
        return True

    async def _state_ready(self) -> bool:
        await self.state.store.ping()
        return True
