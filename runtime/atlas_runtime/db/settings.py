"""Database settings: the `DB_*` environment, the spec's pool overrides, and their validation.

Precedence, lowest first: the standard defaults (runtime contract section 6), the
service spec's `database.pool` block, then the environment. Every value is checked
once, at start-up; a bad one raises `ConfigurationError` naming the variable.

| variable | default | meaning |
|---|---|---|
| `DB_HOST` | unset | PostgreSQL host; unset selects the embedded SQLite file |
| `DB_PORT` | 5432 | |
| `DB_USER`, `DB_PASSWORD`, `DB_NAME` | `postgres`, empty, `postgres` | |
| `DB_SSLMODE` | `prefer` | libpq sslmode |
| `DB_SQLITE_PATH` | `./.atlas/<service>.db` | the embedded database file |
| `DB_MAX_OPEN_CONNS` | 10 | pool_size + max_overflow |
| `DB_MAX_IDLE_CONNS` | 5 | pool_size |
| `DB_CONN_MAX_LIFETIME` | 5m | pool_recycle; 0 disables |
| `DB_CONN_MAX_IDLE_TIME` | 3m | culled at checkout; 0 disables |
| `DB_POOL_TIMEOUT` | 30s | wait for a free connection |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_runtime.errors import ConfigurationError

SslMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: str | float | int, *, name: str) -> float:
    """Seconds from `250ms`, `30s`, `5m`, `1h`, `7d` or a bare number of seconds.

    Raises:
        ConfigurationError: the value is negative or not a duration; the message names `name`.
    """
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ConfigurationError(
                f"{name}={value!r} is not a duration; expected a number with a unit such as "
                "250ms, 30s, 5m, 1h or 7d (a bare number means seconds)"
            )
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds < 0:
        raise ConfigurationError(f"{name}={value!r} is negative; expected a duration of 0 or more")
    return seconds


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """The spec's `database.pool` block: defaults that the environment may override.

    Durations are strings (`5m`) or seconds; `None` keeps the standard default.
    """

    max_open: int | None = None
    max_idle: int | None = None
    max_lifetime: str | float | None = None
    max_idle_time: str | float | None = None


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Resolved, validated pool settings (durations in seconds; 0 disables)."""

    max_open: int = 10
    max_idle: int = 5
    max_lifetime: float = 300.0
    max_idle_time: float = 180.0
    timeout: float = 30.0

    @property
    def pool_size(self) -> int:
        return self.max_idle

    @property
    def max_overflow(self) -> int:
        return self.max_open - self.max_idle


class DatabaseSettings(BaseSettings):
    """The raw `DB_*` environment; call `pool(spec)` for the resolved pool settings."""

    model_config = SettingsConfigDict(env_prefix="DB_", extra="ignore", frozen=True)

    host: str | None = None
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    name: str = "postgres"
    sslmode: SslMode = "prefer"
    sqlite_path: str | None = None
    max_open_conns: int | None = None
    max_idle_conns: int | None = None
    conn_max_lifetime: str | None = None
    conn_max_idle_time: str | None = None
    pool_timeout: str | None = None

    @property
    def is_postgres(self) -> bool:
        return bool(self.host)

    @property
    def address(self) -> str:
        """`host:port` of the PostgreSQL server, for messages."""
        return f"{self.host}:{self.port}"

    def sqlite_file(self, service: str) -> Path:
        return Path(self.sqlite_path or f"./.atlas/{service}.db")

    def pool(self, spec: PoolSpec | None = None) -> PoolConfig:
        """Resolve defaults < spec < environment and validate the result.

        Raises:
            ConfigurationError: a value is invalid; the message names its variable.
        """
        spec = spec or PoolSpec()
        base = PoolConfig()
        max_open = _first(self.max_open_conns, spec.max_open, base.max_open)
        # An unset idle count follows a small max_open down, as Go's database/sql does.
        max_idle = _first(self.max_idle_conns, spec.max_idle, min(base.max_idle, max_open))
        open_name = _source("DB_MAX_OPEN_CONNS", self.max_open_conns, "database.pool.max_open")
        idle_name = _source("DB_MAX_IDLE_CONNS", self.max_idle_conns, "database.pool.max_idle")
        if max_open < 1:
            raise ConfigurationError(f"{open_name}={max_open} must be at least 1")
        if max_idle < 1:
            # QueuePool reads pool_size=0 as "no limit", the opposite of Go's "keep none idle".
            raise ConfigurationError(f"{idle_name}={max_idle} must be at least 1")
        if max_idle > max_open:
            raise ConfigurationError(
                f"{idle_name}={max_idle} is greater than {open_name}={max_open}; "
                "idle connections are a subset of open ones"
            )
        return PoolConfig(
            max_open=max_open,
            max_idle=max_idle,
            max_lifetime=self._duration(
                "DB_CONN_MAX_LIFETIME", self.conn_max_lifetime, spec.max_lifetime, base.max_lifetime
            ),
            max_idle_time=self._duration(
                "DB_CONN_MAX_IDLE_TIME", self.conn_max_idle_time, spec.max_idle_time, base.max_idle_time
            ),
            timeout=self._duration("DB_POOL_TIMEOUT", self.pool_timeout, None, base.timeout),
        )

    @staticmethod
    def _duration(name: str, env: str | None, spec: str | float | None, default: float) -> float:
        if env is not None:
            return parse_duration(env, name=name)
        if spec is not None:
            return parse_duration(spec, name=f"database.pool ({name})")
        return default


def load_settings() -> DatabaseSettings:
    """Read the `DB_*` environment once.

    Raises:
        ConfigurationError: a variable does not parse; the message names it.
    """
    try:
        return DatabaseSettings()
    except ValidationError as error:
        raise ConfigurationError(_describe(error)) from error


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"])
        problems.append(f"DB_{field.upper()}={item.get('input')!r}: {item['msg']}")
    return "invalid database settings: " + "; ".join(problems)


def _first(*values: int | None) -> int:
    for value in values:
        if value is not None:
            return value
    raise AssertionError("unreachable: the last value is the default")  # pragma: no cover


def _source(env_name: str, env_value: int | None, spec_name: str) -> str:
    return env_name if env_value is not None else spec_name
