"""The `ctx` every handler receives: tenant, state, locks, emit, db, calls and a bound logger.

One `Context` is built per message, request or task run. Its members are looked up by
attribute (`ctx.state.parties`, `ctx.locks.party(key)`, `ctx.calls.characters`); a name
the spec does not declare raises an `AttributeError` listing the declared ones.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, TypeAdapter

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.tenant import Tenant, current_tenant

T = TypeVar("T")


def attribute_name(name: str) -> str:
    """The Python attribute of a spec name: `party-invites` -> `party_invites`."""
    return re.sub(r"[^0-9a-zA-Z_]", "_", name)


class Namespace(Generic[T]):
    """Read-only attribute access to named members, e.g. the registries of a service.

    One instance is shared by every handler context of a service; its slots keep a handler
    from setting attributes on it.
    """

    __slots__ = ("_kind", "_members")

    def __init__(self, kind: str, members: Mapping[str, T]) -> None:
        self._kind = kind
        self._members = {attribute_name(k): v for k, v in members.items()}

    def __getattr__(self, name: str) -> T:
        try:
            return self._members[name]
        except KeyError:
            known = ", ".join(sorted(self._members)) or "none"
            raise AttributeError(f"the spec declares no {self._kind} {name!r} (declared: {known})") from None

    def __iter__(self) -> Any:
        return iter(sorted(self._members))


class HandlerLogger(logging.LoggerAdapter[logging.Logger]):
    """`ctx.log`: a logger bound to the handler's coordinates that also takes keyword fields.

    `ctx.log.info("invite expired", invite_id=7)` logs `invite expired invite_id=7`; the
    bound fields (service, tenant, topic, partition, offset or route) and the call's
    fields are on the record's `fields` attribute (a dict), for structured formatters;
    any name is allowed, since none becomes a record attribute of its own.
    """

    _RESERVED = frozenset({"exc_info", "stack_info", "stacklevel", "extra"})

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        call_fields = {k: kwargs.pop(k) for k in list(kwargs) if k not in self._RESERVED}
        if call_fields:
            msg = f"{msg} " + " ".join(f"{k}={v}" for k, v in call_fields.items())
        fields = {**(self.extra or {}), **call_fields}
        kwargs["extra"] = {**kwargs.get("extra", {}), "fields": fields}
        return msg, kwargs


class Emitter(Protocol):
    """Publishes a validated envelope to the topic behind a token."""

    async def emit(self, token: str, message: Any, *, key: object = None) -> None: ...


class Context:
    """The handler context of one message, request or task run."""

    def __init__(
        self,
        *,
        service: str,
        tenant: Tenant | None,
        state: Namespace[Any],
        locks: Namespace[Any],
        calls: Namespace[Any],
        produces: Mapping[str, tuple[TypeAdapter[Any], str | None, str]],
        emitter: Emitter | None,
        builder: Any = None,
        sessions: Callable[[], Any] | None = None,
        record: Any = None,
        inbox_claim: tuple[str, str] | None = None,
        log_fields: Mapping[str, Any] | None = None,
    ) -> None:
        self._tenant = tenant
        self._inbox_claim = inbox_claim
        self._already_applied = False
        self.state = state
        self.locks = locks
        self.calls = calls
        self._produces = produces
        self._emitter = emitter
        self._builder = builder
        self._sessions = sessions
        self._session: Any = None
        self.record = record
        """The consumed Kafka record (topic, partition, offset, key, headers); None outside messages."""
        self._service = service
        self._log_fields = log_fields
        self._log: HandlerLogger | None = None

    @property
    def log(self) -> HandlerLogger:
        """A logger bound to the service, tenant and message or route (built on first use)."""
        if self._log is None:  # most handler runs never log: no logger per message
            fields = {"service": self._service, **(self._log_fields or {})}
            if self._tenant is not None:
                fields["tenant"] = self._tenant.key
            self._log = HandlerLogger(logging.getLogger(f"atlas.{self._service}"), fields)
        return self._log

    @property
    def tenant(self) -> Tenant:
        """The tenant this handler runs as."""
        return self._tenant if self._tenant is not None else current_tenant()

    @property
    def db(self) -> Any:
        """The tenant-scoped async session of this handler run (only with `database:` in the spec).

        Opened on first use; committed when the handler returns, rolled back when it raises.
        """
        if self._sessions is None:
            raise ConfigurationError("ctx.db is unavailable: the spec declares no `database:`")
        if self._session is None:
            from atlas_runtime.db.tenancy import bind_tenant

            self._session = self._sessions()
            bind_tenant(self._session, self.tenant)
        return self._session

    async def _enqueue(self, token: str, envelope: BaseModel, key: object) -> None:
        """`via: outbox`: an outbox row in this run's transaction, published after it commits."""
        from atlas_runtime.db import EVENT_ID_HEADER, enqueue

        if self._builder is None:
            raise ConfigurationError(f"ctx.emit({token!r}): no producer is configured for the outbox")
        message = self._builder.build(token, envelope, key=key)
        headers = [(name, value) for name, value in message.headers if name != EVENT_ID_HEADER]
        await enqueue(self.db, message.topic, message.key or uuid.uuid4().hex, message.value, headers=headers)

    async def begin(self) -> None:
        """Start the handler run; for a message, claim it in the database's inbox first.

        The claim (consumer group, message id) is a row in the run's own transaction, so the
        handler's database writes and outbox events commit together with it, exactly once:
        a message whose database side committed before (a crash came between that commit
        and the Redis marker) runs again for its other effects, and its database writes
        are rolled back.
        """
        if self._inbox_claim is None or self._sessions is None:
            return
        from atlas_runtime.db import claim

        group, message_id = self._inbox_claim
        self._already_applied = not await claim(self.db, group, message_id)
        if self._already_applied:
            self.log.info("database side already applied: rolling back this run's writes", message=message_id)

    async def finish(self, error: BaseException | None = None) -> None:
        """End the handler run: commit the session (roll back after `error`) and close it."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if error is None and not self._already_applied:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()

    async def emit(self, token: str, message: Any) -> None:
        """Publish `message` (the envelope model, or a dict validated against it) to `token`.

        Raises:
            ConfigurationError: the spec does not produce `token`.
            pydantic.ValidationError: a dict does not match the declared envelope.
        """
        if token not in self._produces:
            known = ", ".join(sorted(self._produces)) or "none"
            raise ConfigurationError(f"ctx.emit: the spec does not produce {token!r} (produces: {known})")
        adapter, key_field, via = self._produces[token]
        envelope = message if isinstance(message, BaseModel) else adapter.validate_python(message)
        if via == "outbox":
            await self._enqueue(token, envelope, getattr(envelope, key_field) if key_field else None)
            return
        if self._emitter is None:
            raise ConfigurationError(f"ctx.emit({token!r}): no producer is running for this service")
        key = getattr(envelope, key_field) if key_field else None
        await self._emitter.emit(token, envelope, key=key)


async def run_handler(handler: Callable[..., Awaitable[T]], ctx: Any, *args: Any) -> T:
    """Call a handler, then end its context's run: commit on return, roll back on error."""
    try:
        if isinstance(ctx, Context):
            await ctx.begin()
        result = await handler(ctx, *args)
    except BaseException as error:
        if isinstance(ctx, Context):
            await ctx.finish(error)
        raise
    if isinstance(ctx, Context):
        await ctx.finish()
    return result
