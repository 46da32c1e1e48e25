"""`ctx.db` of a generated service on the real PostgreSQL: tenant-scoped, committed or rolled back per run."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import psycopg
import pytest

from atlas_runtime.service import Service, ServiceDescription

pytestmark = pytest.mark.postgres

SPEC = """
service: fn-journal
models:
  Entry: {id: uint32, text: str}
database:
  tables:
    TABLE:
      columns:
        id: {type: uint32, primary_key: true}
        text: str
endpoints:
  /entries:
    get: {handler: fn_db_logic.rest:entries, returns: "list[Entry]"}
    post: {handler: fn_db_logic.rest:add, body: Entry, status: 201}
"""

HANDLERS = {
    "fn_db_logic.rest": """
        from sqlalchemy import select

        from atlas_fn_journal.tables import MODEL
        from atlas_runtime.errors import BadRequest


        async def add(ctx, request):
            ctx.db.add(MODEL(id=request.body.id, text=request.body.text))
            if request.body.text == "boom":
                await ctx.db.flush()
                raise BadRequest("refused after the insert")
            return request.body


        async def entries(ctx, request):
            rows = (await ctx.db.execute(select(MODEL).order_by(MODEL.id))).scalars()
            return [{"id": row.id, "text": row.text} for row in rows]
    """,
}


@pytest.fixture
async def client(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    db_env: dict[str, str],
    pg_dsn: str,
) -> AsyncIterator[httpx.AsyncClient]:
    table = "fn_journal_" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:10])
    model = "".join(part.title() for part in table.split("_"))
    for name, value in db_env.items():
        monkeypatch.setenv(name, value)
    for name in ("REDIS_URL", "BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTH_MODE", "off")
    handlers = {k: v.replace("MODEL", model) for k, v in HANDLERS.items()}
    service = Service(build_service(SPEC.replace("TABLE", table), handlers))
    app = service.create_app()
    try:
        async with (
            service,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            yield http
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as connection:
            connection.execute(f'DROP TABLE IF EXISTS "{table}"')


def _entry(n: int, text: str) -> dict[str, object]:
    return {"data": {"type": "entries", "attributes": {"id": n, "text": text}}}


async def test_rows_are_committed_per_tenant(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """A handler's inserts are committed and visible only to its own tenant."""
    first, second = tenant_headers(), tenant_headers()
    assert (await client.post("/api/entries", json=_entry(1, "one"), headers=first)).status_code == 201
    assert (await client.post("/api/entries", json=_entry(1, "uno"), headers=second)).status_code == 201
    mine = (await client.get("/api/entries", headers=first)).json()["data"]
    theirs = (await client.get("/api/entries", headers=second)).json()["data"]
    assert [r["attributes"]["text"] for r in mine] == ["one"]
    assert [r["attributes"]["text"] for r in theirs] == ["uno"]


async def test_a_raising_handler_rolls_its_writes_back(
    client: httpx.AsyncClient, tenant_headers: Callable[[], dict[str, str]]
) -> None:
    """When a handler raises after writing, its transaction is rolled back."""
    headers = tenant_headers()
    refused = await client.post("/api/entries", json=_entry(2, "boom"), headers=headers)
    assert refused.status_code == 400
    assert (await client.get("/api/entries", headers=headers)).json()["data"] == []
