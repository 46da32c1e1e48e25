"""Shared fixtures: the real servers started by `scripts/services up`.

Tests that need Redis, PostgreSQL or Kafka take the matching fixture. A server
that is not reachable fails the test (it is never skipped): run
`scripts/services up` first, as `.ci/run` does.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _services_env() -> dict[str, str]:
    """The exports of `scripts/services env`, overridden by the process environment."""
    out = subprocess.run(
        [str(ROOT / "scripts" / "services"), "env"], check=True, capture_output=True, text=True
    ).stdout
    env = {}
    for line in out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = os.environ.get(name, value)
    return env


SERVICES_ENV = _services_env()


def _require(name: str, host: str, port: int) -> None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError:
        pytest.fail(f"{name} is not reachable at {host}:{port}; run `scripts/services up` first")


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = SERVICES_ENV["REDIS_URL"]
    parts = urlsplit(url)
    _require("Redis", parts.hostname or "127.0.0.1", parts.port or 6379)
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = SERVICES_ENV["BOOTSTRAP_SERVERS"]
    host, _, port = servers.split(",")[0].rpartition(":")
    _require("Kafka", host, int(port))
    return servers


@pytest.fixture(scope="session")
def db_env() -> dict[str, str]:
    """The DB_* variables of the test PostgreSQL server."""
    env = {k: v for k, v in SERVICES_ENV.items() if k.startswith("DB_")}
    _require("PostgreSQL", env["DB_HOST"], int(env["DB_PORT"]))
    return env


@pytest.fixture(scope="session")
def pg_dsn(db_env: dict[str, str]) -> str:
    """A psycopg DSN of the test database."""
    return (
        f"host={db_env['DB_HOST']} port={db_env['DB_PORT']} user={db_env['DB_USER']} "
        f"dbname={db_env['DB_NAME']}"
    )
