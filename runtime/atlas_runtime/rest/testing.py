"""Test helpers: serve an app on a free loopback port inside the running event loop.

async with running_server(app) as server:
    async with httpx.AsyncClient(base_url=server.url) as client:
        ...
    server.begin_shutdown()   # the same path SIGTERM takes
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from atlas_runtime.rest.health import Readiness
from atlas_runtime.rest.server import DrainingServer


class _InProcessServer(DrainingServer):
    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The test process keeps its own signal handlers.
        yield


@dataclass
class RunningServer:
    """A server running in the current event loop."""

    url: str
    port: int
    server: DrainingServer
    task: asyncio.Task[None]

    def begin_shutdown(self) -> None:
        """Start a graceful shutdown, exactly as SIGTERM would."""
        self.server.begin_shutdown()

    async def wait_stopped(self, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            await asyncio.shield(self.task)


@asynccontextmanager
async def running_server(
    app: ASGIApp,
    *,
    readiness: Readiness | None = None,
    grace: float = 0.0,
    drain_timeout: int = 5,
) -> AsyncIterator[RunningServer]:
    """Serve `app` on 127.0.0.1 on a free port until the block ends.

    Args:
        app: any ASGI app (`create_app` apps use their own readiness by default).
        readiness: the readiness flipped on shutdown.
        grace: seconds between the readiness flip and closing the listener.
        drain_timeout: seconds in-flight requests get to finish.
    """
    state = getattr(app, "state", None)
    readiness = readiness or getattr(state, "readiness", None) or Readiness()
    # Port 0: the kernel picks a free port. uvicorn binds it itself, so accepted connections get
    # TCP_NODELAY (asyncio sets it only for sockets created with IPPROTO_TCP; a pre-bound socket made
    # with the default protocol 0 would add a ~40 ms delayed-ACK stall to every response).
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="auto",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=drain_timeout,
    )
    server = _InProcessServer(config, readiness=readiness, grace=grace)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                await task  # start-up failed: raise its error
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.005)
        port = int(server.servers[0].sockets[0].getsockname()[1])
        yield RunningServer(f"http://127.0.0.1:{port}", port, server, task)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=drain_timeout + 5)
