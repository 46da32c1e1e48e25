"""Several generated services in one process (`atlas-gen up`): one port, each route with its own service."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.service.launcher import ecosystem_app

GUILDS = """
service: fn-guilds
models:
  Guild: {id: uint32, name: str}
state:
  guilds: {key: uint32, value: Guild}
endpoints:
  /guilds:
    post: {handler: fn_eco_logic.guilds:create, body: Guild, status: 201}
  /guilds/{id}:
    get: {get: guilds}
"""

NOTES = """
service: fn-notes
models:
  Note: {id: uint32, text: str}
state:
  notes: {key: uint32, value: Note}
endpoints:
  /notes:
    get: {list: notes}
    post: {handler: fn_eco_logic.notes:create, body: Note, status: 201}
"""

CLASH = """
service: fn-clash
models:
  Note: {id: uint32, text: str}
state:
  notes: {key: uint32, value: Note}
endpoints:
  /notes:
    get: {list: notes}
"""

HANDLERS = {
    "fn_eco_logic.guilds": """
        async def create(ctx, request):
            await ctx.state.guilds.put(request.body.id, request.body)
            return request.body
    """,
    "fn_eco_logic.notes": """
        async def create(ctx, request):
            await ctx.state.notes.put(request.body.id, request.body)
            return request.body
    """,
}


@pytest.fixture(autouse=True)
def local_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("BOOTSTRAP_SERVERS", raising=False)


async def test_services_share_one_app_with_their_own_state(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    tenant_headers: Callable[[], dict[str, str]],
) -> None:
    """Each service's routes answer from one app, each bound to its own registries."""
    services = [Service(build_service(spec, HANDLERS)) for spec in (GUILDS, NOTES)]
    app = ecosystem_app(services)
    headers = tenant_headers()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        for service in services:
            await service.start()
        try:
            guild = {"data": {"type": "guilds", "attributes": {"id": 1, "name": "Knights"}}}
            assert (await http.post("/api/guilds", json=guild, headers=headers)).status_code == 201
            note = {"data": {"type": "notes", "attributes": {"id": 2, "text": "hi"}}}
            assert (await http.post("/api/notes", json=note, headers=headers)).status_code == 201
            got = await http.get("/api/guilds/1", headers=headers)
            assert got.json()["data"]["attributes"] == {"name": "Knights"}
            notes = await http.get("/api/notes", headers=headers)
            assert [r["id"] for r in notes.json()["data"]] == ["2"]
        finally:
            for service in services:
                await service.stop()


def test_two_services_declaring_one_route_are_refused(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
) -> None:
    """Two services serving the same method and path cannot share one app."""
    services = [Service(build_service(spec, HANDLERS)) for spec in (NOTES, CLASH)]
    with pytest.raises(ConfigurationError, match="GET /api/notes is declared by both fn-notes and fn-clash"):
        ecosystem_app(services)
