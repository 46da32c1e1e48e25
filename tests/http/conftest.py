"""An upstream on loopback that hangs, drips, waits at a gate, fails on cue and records what it saw."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from atlas_runtime.rest.testing import RunningServer, running_server


@dataclass
class Upstream:
    """The recording upstream."""

    url: str = ""
    calls: dict[str, list[float]] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    script: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, request: Request, name: str) -> None:
        self.calls.setdefault(name, []).append(time.monotonic())
        self.headers.append(dict(request.headers))

    def count(self, name: str) -> int:
        return len(self.calls.get(name, []))

    async def scripted(self, request: Request) -> Response:
        """Answers the next scripted status for its name, then 200 with a resource."""
        name = request.path_params["name"]
        self.record(request, name)
        queue = self.script.get(name, [])
        if queue:
            status, headers = queue.pop(0)
            error = {"errors": [{"status": str(status), "title": "scripted", "detail": f"scripted {status}"}]}
            return JSONResponse(error, status_code=status, headers=headers)
        return JSONResponse({"data": {"type": "things", "id": "1", "attributes": {"name": name}}})

    async def echo(self, request: Request) -> Response:
        self.record(request, "echo")
        return JSONResponse({"data": {"type": "echo", "id": "1", "attributes": {"name": "echo"}}})

    async def gated(self, request: Request) -> Response:
        """Answers once the test opens the gate, so the test decides how many requests are in flight."""
        self.record(request, "gate")
        await self.gate.wait()
        return JSONResponse({"data": {"type": "things", "id": "1", "attributes": {"name": "gate"}}})

    async def drip(self, request: Request) -> Response:
        self.record(request, "drip")

        async def body() -> AsyncIterator[bytes]:
            for _ in range(100):
                yield b" "
                await asyncio.sleep(0.05)

        return StreamingResponse(body(), media_type="application/json")


class Hang:
    """A raw ASGI endpoint that never answers and notes when the client goes away."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.upstream.calls.setdefault("hang", []).append(time.monotonic())
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.upstream.disconnected.set()
                return


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream()
    app = Starlette(
        routes=[
            Route("/scripted/{name}", state.scripted, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/echo", state.echo),
            Route("/drip", state.drip),
            Route("/gate", state.gated),
            Route("/hang", Hang(state), methods=["GET", "POST"]),
        ]
    )
    server: RunningServer
    async with running_server(app, drain_timeout=1) as server:
        state.url = server.url + "/"
        yield state
