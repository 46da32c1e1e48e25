"""`ctx.calls.<service>` reaches another generated service over real HTTP, at its `<NAME>_SERVICE_URL`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import httpx
import pytest
import uvicorn

from atlas_runtime.service import Service, ServiceDescription

pytestmark = pytest.mark.slow

CALLEE = """
service: fn-ledger
models:
  Entry: {id: uint32, amount: int}
state:
  entries: {key: uint32, value: Entry}
endpoints:
  /entries:
    get: {list: entries}
    post: {handler: fn_calls_logic.ledger:add, body: Entry, status: 201}
"""

CALLER = """
service: fn-wallet
calls: [fn-ledger]
models:
  Balance: {id: uint32, total: int}
endpoints:
  /balances/{id}:
    get: {handler: fn_calls_logic.wallet:balance, params: {id: uint32}, returns: Balance}
"""

HANDLERS = {
    "fn_calls_logic.ledger": """
        async def add(ctx, request):
            await ctx.state.entries.put(request.body.id, request.body)
            return request.body
    """,
    "fn_calls_logic.wallet": """
        from pydantic import BaseModel

        class Entry(BaseModel):
            id: int
            amount: int

        async def balance(ctx, request):
            entries = await ctx.calls.fn_ledger.get_many("entries", Entry)
            return {"id": request.params["id"], "total": sum(e.amount for e in entries)}
    """,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_handler_calls_another_service_with_the_tenant_propagated(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    tenant_headers: Callable[[], dict[str, str]],
) -> None:
    """A handler's call to a declared service carries the tenant and returns its data."""
    port = _free_port()
    for name in ("REDIS_URL", "BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.setenv("FN_LEDGER_SERVICE_URL", f"http://127.0.0.1:{port}/api/")
    ledger = Service(build_service(CALLEE, HANDLERS))
    wallet = Service(build_service(CALLER, HANDLERS))
    server = uvicorn.Server(uvicorn.Config(ledger.create_app(), host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    headers = tenant_headers()
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as direct:
            for n, amount in ((1, 5), (2, 7)):
                entry = {"data": {"type": "entries", "attributes": {"id": n, "amount": amount}}}
                assert (await direct.post("/api/entries", json=entry, headers=headers)).status_code == 201
        app = wallet.create_app()
        async with (
            wallet,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http,
        ):
            answer = await http.get("/api/balances/3", headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"] == {"type": "balances", "id": "3", "attributes": {"total": 12}}
            other = await http.get("/api/balances/3", headers=tenant_headers())
            assert other.json()["data"]["attributes"] == {"total": 0}
    finally:
        server.should_exit = True
        await serving
