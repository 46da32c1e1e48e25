"""Per-message pipeline, independent of the broker: decode, dedupe, handle, retry, dead-letter.

`Dispatcher.handle(record)` returns only when the message is finished, that is when its
offset may be committed: the handler succeeded (effects committed through the inbox), it
was a duplicate, its type has no handler, or it went to the dead-letter topic. It never
raises for a handler's failure; a failed attempt is logged with the message coordinates
and retried in place after a full-jitter backoff, and after the last attempt the message
goes to `<topic>.DLT` with the error, the attempt count and its original headers.
`Dispatcher.handle_batch(records)` finishes several records of one partition in order,
committing runs of one tenant's messages together when the inbox can (`BatchInbox`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from atlas_runtime.errors import InvalidTenantError
from atlas_runtime.messaging._codec import EnvelopeCodec, envelope_field
from atlas_runtime.messaging._context import ContextFactory, MessageContext, MessageHandler
from atlas_runtime.messaging._errors import MessageDecodeError
from atlas_runtime.messaging._inbox import BatchInbox, Handler, Inbox, InboxItem, InboxScope, Outcome, Unit
from atlas_runtime.messaging._producer import Producer
from atlas_runtime.messaging._records import (
    DLT_SUFFIX,
    EVENT_ID,
    Headers,
    OutboundMessage,
    Record,
    TopicPartition,
)
from atlas_runtime.messaging._trace import bind_message_headers, unbind_trace
from atlas_runtime.retry import KAFKA_PRODUCE, RetryPolicy
from atlas_runtime.tenant import HEADER_NAMES, Tenant
from atlas_runtime.tenant import _current as _tenant_var

log = logging.getLogger("atlas_runtime.messaging.consumer")

DEFAULT_RETRY = RetryPolicy(attempts=5, initial=0.1, max_delay=10.0)
_MAX_ERROR_BYTES = 4096
_TENANT_CACHE = 1024

Backoff = Callable[[TopicPartition, float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Subscription:
    """One consumed topic: its envelope codec, handlers per type and failure policy.

    Attributes:
        token: the topic token.
        topic: the real topic name.
        codec: decodes envelopes.
        handlers: message type -> `async def handler(ctx, message)`; other types are skipped.
        dedupe: the envelope field used as inbox message id; None means the `EVENT_ID` header,
            else `topic/partition/offset`.
        idempotent: False turns the inbox marker off (effects still commit atomically).
        retry: attempts and backoff of a failing handler.
        dead_letter: True sends exhausted and undecodable messages to `<topic>.DLT`;
            False logs and drops them.
    """

    token: str
    topic: str
    codec: EnvelopeCodec
    handlers: Mapping[str, MessageHandler]
    dedupe: str | None = None
    idempotent: bool = True
    retry: RetryPolicy = DEFAULT_RETRY
    dead_letter: bool = True


def dead_letter_message(
    record: Record, error: BaseException, *, attempts: int, group: str
) -> OutboundMessage:
    """The `<topic>.DLT` copy of `record`: same key, value and headers, plus why it failed."""
    text = f"{error}"[:_MAX_ERROR_BYTES]
    headers = [
        *record.headers,
        ("DLT_ORIGINAL_TOPIC", record.topic.encode()),
        ("DLT_ORIGINAL_PARTITION", str(record.partition).encode()),
        ("DLT_ORIGINAL_OFFSET", str(record.offset).encode()),
        ("DLT_CONSUMER_GROUP", group.encode()),
        ("DLT_ERROR_CLASS", type(error).__qualname__.encode()),
        ("DLT_ERROR", text.encode()),
        ("DLT_ATTEMPTS", str(attempts).encode()),
    ]
    return OutboundMessage(record.topic + DLT_SUFFIX, record.key, record.value or b"", headers)


@dataclass(slots=True)
class _Prepared:
    """A decoded record with a handler: everything a handler run needs."""

    subscription: Subscription
    record: Record
    tenant: Tenant
    scope: InboxScope
    handler: MessageHandler
    envelope: Any
    message_id: str | None


def _never() -> bool:
    return False


class _Run:
    """Consecutive records handled together: messages of one inbox scope, and skipped records."""

    def __init__(self) -> None:
        self.entries: list[tuple[Record, _Prepared | None]] = []
        self.messages: list[_Prepared] = []

    def __len__(self) -> int:
        return len(self.entries)

    def accepts(self, message: _Prepared | None) -> bool:
        """Whether `message` joins the run (None: a skipped record, finished with its neighbours)."""
        if message is None or not self.messages:
            return True
        first = self.messages[0].scope
        return message.scope is first or message.scope == first  # mostly the cached object itself

    def add(self, record: Record, message: _Prepared | None) -> None:
        self.entries.append((record, message))
        if message is not None:
            self.messages.append(message)

    def records_through(self, handled: int) -> int:
        """How many records are finished once its first `handled` messages are."""
        if handled == len(self.messages):
            return len(self.entries)
        seen = 0
        for index, (_, message) in enumerate(self.entries):
            if message is not None:
                if seen == handled:
                    return index
                seen += 1
        return len(self.entries)


class Dispatcher:
    """Runs the handlers of fetched records.

    Args:
        group: the consumer group (inbox scope, dead-letter headers).
        subscriptions: topic name -> subscription.
        inbox: the idempotency inbox.
        producer: builds handler emits and sends dead letters.
        backoff: sleeps between attempts (the consumer pauses the partition meanwhile).
        context_factory: wraps `MessageContext` into the object handlers receive.
    """

    def __init__(
        self,
        *,
        group: str,
        subscriptions: Mapping[str, Subscription],
        inbox: Inbox,
        producer: Producer,
        backoff: Backoff,
        context_factory: ContextFactory | None = None,
    ) -> None:
        self._group = group
        self._subscriptions = subscriptions
        self._inbox = inbox
        self._batch_inbox = inbox if isinstance(inbox, BatchInbox) else None
        self._producer = producer
        self._backoff = backoff
        self._context_factory = context_factory
        self.handled = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self._tenants: dict[tuple[tuple[str, bytes], ...], tuple[Tenant, InboxScope]] = {}
        self._last_head: Headers | None = None  # the first headers of the last cached tenant
        self._last_tenant: tuple[Tenant, InboxScope] | None = None

    async def handle(self, record: Record) -> None:
        """Finish `record`: handle it, skip it or dead-letter it. Raises only on cancellation."""
        decoded = self._decode(record)
        if isinstance(decoded, _Prepared):
            await self._handle_with_retry(decoded)
        elif decoded is not None:
            await self._reject(self._subscriptions[record.topic], record, decoded, attempts=0)

    async def handle_batch(self, records: Sequence[Record], *, stop: Callable[[], bool] = _never) -> int:
        """Finish consecutive records of one partition, in order; returns how many, from the first.

        With a `BatchInbox`, each run of messages of one tenant commits in one atomic step
        (one round trip for all their markers, one for the commit); a failing or conflicting
        run is handled again one message at a time, with the usual retries. Once `stop()` is
        true no further message starts: the count then says where to resume.
        """
        if self._batch_inbox is None:
            for index, record in enumerate(records):
                if index and stop():
                    return index
                await self.handle(record)
            return len(records)
        finished, run = 0, _Run()
        for record in records:
            decoded = self._decode(record)
            if not isinstance(decoded, BaseException) and run.accepts(decoded):
                run.add(record, decoded)
                continue
            done = await self._handle_run(run, stop)
            finished += done
            if done < len(run) or stop():
                return finished
            run = _Run()
            if isinstance(decoded, BaseException):
                await self._reject(self._subscriptions[record.topic], record, decoded, attempts=0)
                finished += 1
            else:
                run.add(record, decoded)
        return finished + await self._handle_run(run, stop)

    def _decode(self, record: Record) -> _Prepared | BaseException | None:
        """The message to handle; None when its type has no handler; the error when it is rejected."""
        subscription = self._subscriptions[record.topic]
        try:
            tenant, scope = self._tenant(record.headers)
            message_type, envelope = subscription.codec.decode(record.value)
        except InvalidTenantError as error:
            log.error("rejecting %s: %s", record.coordinates, error)
            return error
        except MessageDecodeError as error:
            if error.message_type is not None and error.message_type not in subscription.handlers:
                return None  # a type this consumer does not handle is skipped, whatever its body
            log.error("rejecting %s: %s", record.coordinates, error)
            return error
        handler = subscription.handlers.get(message_type)
        if handler is None:
            return None
        message_id = self._message_id(subscription, record, envelope)
        return _Prepared(subscription, record, tenant, scope, handler, envelope, message_id)

    def _tenant(self, headers: Headers) -> tuple[Tenant, InboxScope]:
        """Parse the tenant headers, memoised with the inbox scope: a consumer sees few tenants.

        Producers put the tenant headers first, so the first four headers are the cache key
        unless a tenant header repeats further on; a run of one tenant's messages costs a
        list comparison, without hashing the bytes.
        """
        head, tail = headers[:4], headers[4:]
        if not any(name in HEADER_NAMES for name, _ in tail):
            if head == self._last_head and self._last_tenant is not None:
                return self._last_tenant
            found = self._tenants.get(tuple(head))
            if found is not None:  # only keys made of tenant headers alone are cached
                self._last_head, self._last_tenant = head, found
                return found
        key = tuple(pair for pair in headers if pair[0] in HEADER_NAMES)
        found = self._tenants.get(key)
        if found is None:
            tenant = Tenant.from_kafka_headers(headers)
            if len(self._tenants) >= _TENANT_CACHE:
                self._tenants.clear()
            found = self._tenants[key] = (tenant, InboxScope(self._group, tenant.key))
        return found

    async def _handle_run(self, run: _Run, stop: Callable[[], bool]) -> int:
        """Handle a run; returns how many of its records are finished (all, unless stopped)."""
        messages = run.messages
        failed: dict[int, BaseException] = {}  # the message whose handler broke the batch
        if len(messages) > 1 and self._batch_inbox is not None:
            items = [self._batch_item(m, failed) for m in messages]
            tenant_token = _tenant_var.set(messages[0].tenant)
            try:
                outcomes = await self._batch_inbox.process_batch(messages[0].scope, items, stop=stop)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.info("a batch of %d messages failed (%r); handling them one by one", len(items), error)
            else:
                for outcome in outcomes:
                    self._count(outcome)
                return run.records_through(len(outcomes))
            finally:
                _tenant_var.reset(tenant_token)
        for index, (_, message) in enumerate(run.entries):
            if index and stop():
                return index
            if message is not None:
                await self._handle_with_retry(message, failed=failed.get(id(message)))
        return len(run)

    def _batch_item(self, message: _Prepared, failed: dict[int, BaseException]) -> InboxItem:
        """The message's first attempt in a batch; its error, noted in `failed`, counts as that attempt."""
        run = self._runner(message, attempt=1, bind=True)

        async def handler(unit: Unit) -> None:
            try:
                await run(unit)
            except Exception as error:
                failed[id(message)] = error
                raise

        return InboxItem(message.message_id, handler)

    async def _handle_with_retry(self, message: _Prepared, *, failed: BaseException | None = None) -> None:
        """Run the message's handler until it succeeds or its attempts run out (then dead-letter it).

        `failed` is the error of a first attempt that already ran (in a batch).
        """
        record, tenant = message.record, message.tenant
        attempt = 0
        if failed is not None:
            attempt = 1
            if await self._after_failure(message, failed, attempt):
                return
        while True:
            attempt += 1
            run = self._runner(message, attempt=attempt)
            trace_token = bind_message_headers(record.headers)
            tenant_token = _tenant_var.set(tenant)  # as_tenant() without the contextmanager cost
            try:
                outcome = await self._inbox.process(message.scope, message.message_id, run)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if await self._after_failure(message, error, attempt):
                    return
                continue
            finally:
                _tenant_var.reset(tenant_token)
                unbind_trace(trace_token)
            self._count(outcome)
            return

    async def _after_failure(self, message: _Prepared, error: BaseException, attempt: int) -> bool:
        """Log a failed attempt; dead-letter after the last one (True), else back off (False)."""
        record, policy = message.record, message.subscription.retry
        log.error(
            "handler failed on %s (tenant %s, attempt %d of %d): %r",
            record.coordinates,
            message.tenant.key,
            attempt,
            policy.attempts,
            error,
            exc_info=error,
        )
        if attempt >= policy.attempts:
            await self._reject(message.subscription, record, error, attempts=attempt)
            return True
        await self._backoff(record.tp, policy.backoff(attempt))
        return False

    def _count(self, outcome: Outcome) -> None:
        if outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.handled += 1

    def _runner(self, message: _Prepared, *, attempt: int, bind: bool = False) -> Handler:
        """The inbox handler of one attempt; `bind` binds the message's headers around it (batches)."""
        record, factory = message.record, self._context_factory

        def call(unit: Unit) -> Awaitable[None]:
            ctx = MessageContext(
                message.tenant, record, attempt, unit, self._producer, self._group, message.message_id
            )
            return message.handler(factory(ctx) if factory else ctx, message.envelope)

        if not bind:
            return call  # the handler's own coroutine: no wrapper on the per-message path

        async def bound(unit: Unit) -> None:
            trace_token = bind_message_headers(record.headers)
            try:
                await call(unit)
            finally:
                unbind_trace(trace_token)

        return bound

    @staticmethod
    def _message_id(subscription: Subscription, record: Record, envelope: Any) -> str | None:
        if not subscription.idempotent:
            return None
        if subscription.dedupe is not None:
            value = envelope_field(envelope, subscription.dedupe)
            if value is not None:
                return f"{subscription.dedupe}:{value}"
        event_id = record.header(EVENT_ID)
        if event_id:
            return "event:" + event_id.decode("ascii", errors="replace")
        return f"{record.topic}/{record.partition}/{record.offset}"

    async def _reject(
        self, subscription: Subscription, record: Record, error: BaseException, *, attempts: int
    ) -> None:
        if not subscription.dead_letter:
            log.error(
                "dropping %s after %d attempts (dead_letter is off): %r", record.coordinates, attempts, error
            )
            return
        message = dead_letter_message(record, error, attempts=attempts, group=self._group)
        failures = 0
        while True:  # the offset must not be committed before the dead letter is stored
            try:
                await self._producer.send(message)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("dead-lettering %s to %s failed; retrying", record.coordinates, message.topic)
                await asyncio.sleep(KAFKA_PRODUCE.backoff(min(failures, 8)))
        self.dead_lettered += 1
        log.warning("dead-lettered %s to %s after %d attempts", record.coordinates, message.topic, attempts)
