"""Messaging settings read once at start-up from the environment.

Topic names come from the env var named by each topic token, and a token without one is
an error: every missing token is reported at once, never silently replaced by the token
itself. `BOOTSTRAP_SERVERS` may list several brokers, comma-separated; when it is unset
the in-process bus is used. The consumer group is the spec's (default
`"<service> service"`), overridden by a non-empty `KAFKA_CONSUMER_GROUP`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from atlas_runtime.errors import ConfigurationError

BOOTSTRAP_SERVERS = "BOOTSTRAP_SERVERS"
KAFKA_CONSUMER_GROUP = "KAFKA_CONSUMER_GROUP"
REDIS_URL = "REDIS_URL"


def resolve_topics(tokens: Iterable[str], env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Map each topic token to the topic name held by the env var of that name.

    Raises:
        ConfigurationError: naming every token whose variable is unset or empty.
    """
    source = os.environ if env is None else env
    wanted = sorted(set(tokens))
    missing = [token for token in wanted if not source.get(token, "").strip()]
    if missing:
        raise ConfigurationError(
            f"topic token{'s' if len(missing) > 1 else ''} without a topic name: {', '.join(missing)}; "
            "set each as an environment variable holding the real topic name "
            f"(for example {missing[0]}={missing[0]})"
        )
    return {token: source[token].strip() for token in wanted}


def split_servers(value: str) -> list[str]:
    """The broker addresses of a comma-separated `BOOTSTRAP_SERVERS` value."""
    return [part.strip() for part in value.split(",") if part.strip()]


def resolve_consumer_group(service: str, declared: str | None, env: Mapping[str, str] | None = None) -> str:
    """The consumer group: `KAFKA_CONSUMER_GROUP` if non-empty, else the spec's, else `<service> service`."""
    source = os.environ if env is None else env
    override = source.get(KAFKA_CONSUMER_GROUP, "")
    if override:
        return override
    return declared or f"{service} service"


@dataclass(frozen=True, slots=True)
class MessagingSettings:
    """Resolved messaging configuration of one service.

    Args:
        service: the service name (used in logs, outbox and default group names).
        topics: topic token -> real topic name.
        consumer_group: the resolved consumer group.
        bootstrap_servers: broker addresses; empty means the in-process bus.
        redis_url: where the inbox and outbox live; None means in-process.
        kafka_config: extra librdkafka properties for every client.
    """

    service: str
    topics: Mapping[str, str]
    consumer_group: str
    bootstrap_servers: list[str] = field(default_factory=list)
    redis_url: str | None = None
    kafka_config: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(
        cls,
        service: str,
        tokens: Iterable[str],
        *,
        consumer_group: str | None = None,
        env: Mapping[str, str] | None = None,
        kafka_config: Mapping[str, object] | None = None,
    ) -> MessagingSettings:
        """Read the settings of `service`, whose spec names `tokens` under consumes/produces."""
        source = os.environ if env is None else env
        return cls(
            service=service,
            topics=resolve_topics(tokens, source),
            consumer_group=resolve_consumer_group(service, consumer_group, source),
            bootstrap_servers=split_servers(source.get(BOOTSTRAP_SERVERS, "")),
            redis_url=source.get(REDIS_URL) or None,
            kafka_config=dict(kafka_config or {}),
        )

    @property
    def embedded(self) -> bool:
        """True when no broker is configured and the in-process bus stands in."""
        return not self.bootstrap_servers

    def topic(self, token: str) -> str:
        """The topic name of `token`; raises ConfigurationError for an undeclared token."""
        try:
            return self.topics[token]
        except KeyError:
            known = ", ".join(sorted(self.topics)) or "none"
            raise ConfigurationError(f"unknown topic token {token!r}; declared tokens: {known}") from None
