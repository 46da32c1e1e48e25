"""Serving an app with uvicorn and shutting down gracefully.

On SIGTERM (or SIGINT, or `begin_shutdown()`): readiness flips to 503 at once; after
`shutdown_grace` seconds (time for load balancers to notice) the listener closes and
idle connections are dropped; in-flight requests then get up to `drain_timeout`
seconds to finish before they are cancelled. A second SIGINT forces the exit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from atlas_runtime.rest.app import readiness_of
from atlas_runtime.rest.health import Readiness
from atlas_runtime.rest.settings import RestSettings

log = logging.getLogger("atlas_runtime.rest")


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose shutdown starts with a readiness flip and a grace period."""

    def __init__(self, config: uvicorn.Config, *, readiness: Readiness, grace: float) -> None:
        super().__init__(config)
        self.readiness = readiness
        self.grace = grace
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown_begun = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._shutdown_begun or self._loop is None:
            super().handle_exit(sig, frame)  # a second signal: stop now (SIGINT forces the exit)
            return
        self._captured_signals.append(sig)
        self._loop.call_soon_threadsafe(self.begin_shutdown)

    def begin_shutdown(self) -> None:
        """Start a graceful shutdown (call on the server's event loop)."""
        if self._shutdown_begun:
            return
        self._shutdown_begun = True
        self.readiness.start_draining()
        log.info("shutdown requested: closing the listener in %.1fs", self.grace)
        asyncio.get_running_loop().call_later(self.grace, self._stop_accepting)

    def _stop_accepting(self) -> None:
        self.should_exit = True


def server_for(
    app: FastAPI,
    *,
    host: str | None = None,
    port: int | None = None,
    settings: RestSettings | None = None,
    **uvicorn_options: object,
) -> DrainingServer:
    """A `DrainingServer` for an app built by `create_app` (settings default to the app's)."""
    settings = settings or app.state.rest_settings
    assert isinstance(settings, RestSettings)
    config = uvicorn.Config(
        app,
        host=host or settings.host,
        port=settings.port if port is None else port,
        lifespan="on",
        access_log=False,
        timeout_graceful_shutdown=math.ceil(settings.drain_timeout),
        log_config=None,
        **uvicorn_options,  # type: ignore[arg-type]
    )
    return DrainingServer(config, readiness=readiness_of(app), grace=settings.shutdown_grace)


async def serve(
    app: FastAPI,
    host: str | None = None,
    port: int | None = None,
    *,
    settings: RestSettings | None = None,
) -> None:
    """Serve `app` until SIGTERM/SIGINT, then drain gracefully (see the module docstring)."""
    await server_for(app, host=host, port=port, settings=settings).serve()


def run(app: FastAPI, host: str | None = None, port: int | None = None) -> None:
    """Blocking `serve` for a `main()`."""
    asyncio.run(serve(app, host, port))
