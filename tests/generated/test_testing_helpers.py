"""`atlas_runtime.service.testing` runs a generated service in-process for a user's own tests."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from atlas_runtime.service import ServiceDescription
from atlas_runtime.service.testing import running, tenant_headers
from atlas_runtime.tenant import Tenant, as_tenant

SPEC = """
service: fn-helpers
models:
  Item: {id: uint32, label: str}
state:
  items: {key: uint32, value: Item}
endpoints:
  /items/{id}:
    get: {get: items}
"""


async def test_running_serves_the_app_and_exposes_the_state(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    key_env: dict[str, str],
    redis_url: str,
) -> None:
    """A value put through the service's registry is served by its app under the same tenant."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("AUTH_MODE", "off")
    tenant = Tenant(uuid.uuid4(), "GMS", 83, 1)
    headers = tenant_headers(tenant)
    async with running(build_service(SPEC, {}), environ=key_env) as (service, http):
        with as_tenant(tenant):
            await service.context().state.items.put(4, {"id": 4, "label": "axe"})
        response = await http.get("/api/items/4", headers=headers)
        assert response.json()["data"] == {"type": "items", "id": "4", "attributes": {"label": "axe"}}
        assert (await http.get("/api/items/4", headers=tenant_headers())).status_code == 404
