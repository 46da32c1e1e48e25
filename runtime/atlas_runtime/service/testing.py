"""Test helpers for generated services: run one in-process and talk to it over HTTP.

    async with running(SERVICE, environ={"ATLAS_ENV": "t1"}) as (service, http):
        response = await http.get("/api/parties", headers=tenant_headers())

The service is started by its app's lifespan (tasks, consumers, clients, the saga
orchestrator's routes) and its app is reached through an
in-process ASGI transport, so no port is opened. Backends follow the environment as in
production: Redis at `REDIS_URL`, Kafka at `BOOTSTRAP_SERVERS`, else the embedded ones.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from atlas_runtime.service.assembly import Service
from atlas_runtime.service.description import ServiceDescription
from atlas_runtime.tenant import Tenant


def tenant_headers(tenant: Tenant | None = None) -> dict[str, str]:
    """The four tenant headers of a request (a fresh GMS 83.1 tenant when none is given)."""
    tenant = tenant or Tenant(uuid.uuid4(), "GMS", 83, 1)
    return {
        "TENANT_ID": str(tenant.id),
        "REGION": tenant.region,
        "MAJOR_VERSION": str(tenant.major_version),
        "MINOR_VERSION": str(tenant.minor_version),
    }


@asynccontextmanager
async def running(
    description: ServiceDescription, *, environ: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[Service, httpx.AsyncClient]]:
    """Start `description` in-process and yield it with an HTTP client bound to its app.

    Args:
        description: the generated package's `SERVICE`.
        environ: variables laid over `os.environ` (e.g. a unique `ATLAS_ENV` key prefix).
    """
    service = Service(description, environ=environ)
    app = service.create_app()
    transport = httpx.ASGITransport(app=app)
    # The app's own lifespan, as under uvicorn: it starts the service and mounts what needs a
    # started service (the orchestrator's `/api/sagas`).
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://service") as http,
    ):
        yield service, http
