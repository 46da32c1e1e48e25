"""`/api/readyz` of a generated service checks every backend it uses: Redis, Kafka, the database."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable

import pytest

from atlas_runtime.service import ServiceDescription
from atlas_runtime.service.testing import running

pytestmark = [pytest.mark.redis, pytest.mark.kafka, pytest.mark.postgres]

SPEC = """
service: fn-ready
models:
  Note: {id: uint32}
messages:
  NoteStatus:
    fields: {note_id: uint32}
    types: {ADDED: {}}
produces:
  EVENT_TOPIC_FN_NOTE: {message: NoteStatus, key: note_id}
database:
  tables:
    fn_ready_notes:
      columns:
        id: {type: uint32, primary_key: true}
"""


@pytest.fixture
def description(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    redis_url: str,
    db_env: dict[str, str],
    key_env: dict[str, str],
) -> ServiceDescription:
    for name, value in {**db_env, **key_env}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.setenv("REST_READINESS_TIMEOUT", "3")
    monkeypatch.setenv("EVENT_TOPIC_FN_NOTE", f"fn-note-{uuid.uuid4().hex[:8]}")
    return build_service(SPEC, {})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_ready_when_every_backend_answers(
    description: ServiceDescription, monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str
) -> None:
    """With Redis, Kafka and PostgreSQL up, readiness is 200 and names each check."""
    monkeypatch.setenv("BOOTSTRAP_SERVERS", kafka_bootstrap)
    async with running(description) as (_, http):
        response = await http.get("/api/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"state": "ok", "kafka": "ok", "database": "ok"}


async def test_not_ready_while_the_broker_is_unreachable(
    description: ServiceDescription, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker that does not answer makes readiness 503, naming the Kafka check."""
    monkeypatch.setenv("BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    async with running(description) as (_, http):
        response = await http.get("/api/readyz")
    assert response.status_code == 503
    checks = response.json()["meta"]["checks"]
    assert checks["state"] == "ok" and checks["database"] == "ok"
    assert checks["kafka"] != "ok"
