"""Readiness checks and graceful shutdown on a real server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response

from atlas_runtime.auth import AuthSettings
from atlas_runtime.errors import ConfigurationError
from atlas_runtime.rest import RestSettings, create_app
from atlas_runtime.rest.testing import running_server

OFF = AuthSettings(mode="off")
TENANT = {
    "TENANT_ID": "083839c6-c47c-42a6-9585-76492795d123",
    "REGION": "GMS",
    "MAJOR_VERSION": "83",
    "MINOR_VERSION": "1",
}


async def test_readiness_reports_each_check() -> None:
    """Readiness is 200 when every check passes and 503 naming the failing ones otherwise."""

    async def redis() -> None:
        return None

    async def kafka() -> None:
        raise ConnectionError("broker down")

    async def database() -> bool:
        return False

    async def slow() -> None:
        await asyncio.sleep(5)

    healthy = create_app("ok", auth=OFF, readiness_checks={"redis": redis})
    sick = create_app(
        "sick",
        auth=OFF,
        readiness_checks={"redis": redis, "kafka": kafka, "db": database, "slow": slow},
        settings=RestSettings(readiness_timeout=0.2),
    )
    async with running_server(healthy) as good, running_server(sick) as bad, httpx.AsyncClient() as client:
        assert (await client.get(f"{good.url}/api/readyz")).json() == {
            "status": "ready",
            "checks": {"redis": "ok"},
        }
        response = await client.get(f"{bad.url}/api/readyz")
    assert response.status_code == 503
    checks = response.json()["meta"]["checks"]
    assert checks["redis"] == "ok"
    assert "broker down" in checks["kafka"]
    assert checks["db"] == "failed: returned False"
    assert checks["slow"].startswith("timed out")


async def test_shutdown_flips_readiness_and_drains_in_flight_requests() -> None:
    """On shutdown readiness answers 503 at once while an in-flight slow request still completes."""
    started = asyncio.Event()

    async def slow(request: StarletteRequest) -> Response:
        started.set()
        await asyncio.sleep(1.0)
        return JSONResponse({"done": True})

    app = create_app("drain", auth=OFF)
    app.add_route("/slow", slow)
    async with running_server(app, grace=0.6) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            in_flight = asyncio.create_task(client.get("/slow", headers=TENANT))
            await asyncio.wait_for(started.wait(), 5)
            assert (await client.get("/api/readyz")).status_code == 200
            server.begin_shutdown()
            during = await client.get("/api/readyz")
            response = await in_flight
        await server.wait_stopped(timeout=10)
        assert during.status_code == 503
        assert during.json()["errors"][0]["detail"] == "the service is shutting down"
        assert response.status_code == 200 and response.json() == {"done": True}
        with pytest.raises(httpx.ConnectError):
            async with httpx.AsyncClient() as late:
                await late.get(f"{server.url}/api/health")


def test_auth_on_without_keys_refuses_to_start() -> None:
    """With auth on and no key configured the app factory raises ConfigurationError."""
    with pytest.raises(ConfigurationError, match="AUTH_JWKS_URL or AUTH_PUBLIC_KEY"):
        create_app("nokeys", auth=AuthSettings(mode="on"))


def test_auth_on_without_issuer_refuses_to_start() -> None:
    """With keys but no issuer or audience the app factory raises ConfigurationError naming them."""
    with pytest.raises(ConfigurationError, match="AUTH_ISSUER and AUTH_AUDIENCE"):
        create_app("noiss", auth=AuthSettings(public_key="-----BEGIN PUBLIC KEY-----"))


def test_auth_off_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """AUTH_MODE=off builds an app and warns that tokens are not checked."""
    with caplog.at_level("WARNING", logger="atlas_runtime.rest"):
        create_app("open", auth=OFF)
    assert any("AUTH_MODE=off" in record.getMessage() for record in caplog.records)


SIGTERM_APP = """
import asyncio
from starlette.responses import JSONResponse
from atlas_runtime.auth import AuthSettings
from atlas_runtime.rest import RestSettings, create_app, serve

async def slow(request):
    await asyncio.sleep(1.5)
    return JSONResponse({"done": True})

app = create_app("sigterm", auth=AuthSettings(mode="off"),
                 settings=RestSettings(port={port}, shutdown_grace=0.8, drain_timeout=10))
app.add_route("/slow", slow)
asyncio.run(serve(app))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
async def test_sigterm_drains_a_served_process(tmp_path: Path) -> None:
    """SIGTERM to a process run by `serve` flips readiness, finishes the slow request, then exits 0."""
    port = free_port()
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(SIGTERM_APP.replace("{port}", str(port))))
    process = subprocess.Popen([sys.executable, str(script)], env={**os.environ})
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if (await client.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the served process did not start"
                    await asyncio.sleep(0.05)
            in_flight = asyncio.create_task(client.get("/slow", headers=TENANT))
            await asyncio.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            during = await client.get("/api/readyz")
            response = await in_flight
        assert during.status_code == 503
        assert response.status_code == 200
        assert await asyncio.to_thread(process.wait, 15) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
