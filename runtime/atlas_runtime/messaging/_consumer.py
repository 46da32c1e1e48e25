"""The consumer every service subscribes through: declarative subscriptions, then run/stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.messaging._codec import EnvelopeCodec, EnvelopeType
from atlas_runtime.messaging._context import ContextFactory, MessageHandler
from atlas_runtime.messaging._dispatch import DEFAULT_RETRY, Dispatcher, Subscription
from atlas_runtime.messaging._engine import ConsumerEngine, ConsumerSource
from atlas_runtime.messaging._inbox import Inbox
from atlas_runtime.messaging._producer import Producer
from atlas_runtime.messaging._records import TopicPartition
from atlas_runtime.retry import RetryPolicy

RetrySpec = RetryPolicy | Mapping[str, float]


def retry_policy(spec: RetrySpec | None) -> RetryPolicy:
    """A `RetryPolicy` from the spec's `retry: {attempts, initial, max}` (seconds) or a policy."""
    if spec is None:
        return DEFAULT_RETRY
    if isinstance(spec, RetryPolicy):
        return spec
    unknown = set(spec) - {"attempts", "initial", "max"}
    if unknown:
        raise ConfigurationError(f"unknown retry settings {sorted(unknown)}; expected attempts, initial, max")
    return RetryPolicy(
        attempts=int(spec.get("attempts", DEFAULT_RETRY.attempts)),
        initial=float(spec.get("initial", DEFAULT_RETRY.initial)),
        max_delay=float(spec.get("max", DEFAULT_RETRY.max_delay)),
    )


class Consumer:
    """Consumes the subscribed topics of one consumer group, at least once, effects exactly once.

    Args:
        source: the broker's consumer side.
        group: the consumer group.
        topics: topic token -> real topic name.
        inbox: the idempotency inbox handler effects commit through.
        producer: emits of handlers and dead letters.
        context_factory: wraps each `MessageContext` into what handlers receive.
        engine_options: passed to `ConsumerEngine` (max_backlog, max_buffered, idle_fetch,
            max_batch, commit_every, commit_interval, drain_timeout, revoke_timeout).
    """

    def __init__(
        self,
        source: ConsumerSource,
        *,
        group: str,
        topics: Mapping[str, str],
        inbox: Inbox,
        producer: Producer,
        context_factory: ContextFactory | None = None,
        **engine_options: Any,
    ) -> None:
        self.group = group
        self._source = source
        self._topics = dict(topics)
        self._inbox = inbox
        self._producer = producer
        self._context_factory = context_factory
        self._engine_options = engine_options
        self._subscriptions: dict[str, Subscription] = {}
        self._engine: ConsumerEngine | None = None
        self._task: asyncio.Task[None] | None = None
        self.dispatcher: Dispatcher | None = None

    def subscribe(
        self,
        token: str,
        envelope: EnvelopeType | None,
        handlers: Mapping[str, MessageHandler],
        *,
        dedupe: str | None = None,
        idempotent: bool = True,
        retry: RetrySpec | None = None,
        dead_letter: bool = True,
    ) -> None:
        """Consume the topic of `token` (the spec's `consumes` entry).

        Args:
            token: the topic token.
            envelope: the envelope model or TypeAdapter values are decoded with.
            handlers: message type -> `async def handler(ctx, message) -> None`.
            dedupe: envelope field naming the message id for the inbox (default: the
                `EVENT_ID` header, else topic/partition/offset).
            idempotent: False skips the inbox marker (effects still commit atomically).
            retry: attempts and backoff of failing handlers.
            dead_letter: send exhausted or undecodable messages to `<topic>.DLT`.
        """
        if self._engine is not None:
            raise RuntimeError("subscribe() must be called before the consumer starts")
        try:
            topic = self._topics[token]
        except KeyError:
            known = ", ".join(sorted(self._topics)) or "none"
            raise ConfigurationError(f"unknown topic token {token!r}; declared tokens: {known}") from None
        if topic in self._subscriptions:
            raise ConfigurationError(
                f"topic token {token!r} ({topic}) is subscribed twice; merge its handlers"
            )
        self._subscriptions[topic] = Subscription(
            token=token,
            topic=topic,
            codec=EnvelopeCodec(envelope),
            handlers=dict(handlers),
            dedupe=dedupe,
            idempotent=idempotent,
            retry=retry_policy(retry),
            dead_letter=dead_letter,
        )

    def _build(self) -> ConsumerEngine:
        if not self._subscriptions:
            raise ConfigurationError("the consumer has no subscriptions")
        engine: ConsumerEngine

        async def backoff(tp: Any, delay: float) -> None:
            await engine.backoff(tp, delay)

        self.dispatcher = Dispatcher(
            group=self.group,
            subscriptions=self._subscriptions,
            inbox=self._inbox,
            producer=self._producer,
            backoff=backoff,
            context_factory=self._context_factory,
        )
        engine = ConsumerEngine(self._source, self.dispatcher, self._subscriptions, **self._engine_options)
        return engine

    async def run(self) -> None:
        """Consume until `stop()` is called (or the task is cancelled)."""
        if self._engine is None:
            self._engine = self._build()
        await self._engine.run()

    async def start(self) -> None:
        """Run in a background task."""
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"atlas-consumer {self.group}")

    async def stop(self) -> None:
        """Stop fetching, drain in-flight handlers (bounded), commit finished offsets and close."""
        if self._engine is not None:
            await self._engine.stop()
        if self._task is not None:
            task, self._task = self._task, None
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def queued(self) -> Mapping[TopicPartition, int]:
        """Records fetched and not yet started, per partition with a worker."""
        return self._engine.queued if self._engine is not None else {}

    @property
    def stats(self) -> dict[str, int]:
        """Counts of handled, duplicate and dead-lettered messages since start."""
        d = self.dispatcher
        if d is None:
            return {"handled": 0, "duplicates": 0, "dead_lettered": 0}
        return {"handled": d.handled, "duplicates": d.duplicates, "dead_lettered": d.dead_lettered}
