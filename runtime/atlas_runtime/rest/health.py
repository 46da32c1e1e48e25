"""Liveness (`GET /api/health`) and readiness (`GET /api/readyz`).

Liveness says only that the process answers. Readiness runs every check (Redis,
Kafka, the database...) concurrently, each bounded by a timeout, and answers 503 as
soon as shutdown begins, before any request is refused, so load balancers stop
routing here while in-flight requests drain. Work that does not come through the
listener (Kafka consumers, periodic tasks) registers `on_drain` hooks, which start at
that same moment rather than after the grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response

from atlas_runtime.rest.problems import JsonApiResponse

log = logging.getLogger("atlas_runtime.rest")

ReadinessCheck = Callable[[], Awaitable[object]]
"""An async check: ready unless it raises, times out, or returns False."""

DrainHook = Callable[[], Coroutine[Any, Any, None]]
"""Stops work that is not a request (consumers, tasks) once shutdown begins."""


class Readiness:
    """The readiness state of one app: its checks and whether it is draining."""

    def __init__(
        self,
        checks: Mapping[str, ReadinessCheck] | Sequence[ReadinessCheck] = (),
        *,
        timeout: float = 2.0,
    ) -> None:
        if isinstance(checks, Mapping):
            self.checks = dict(checks)
        else:
            self.checks = {getattr(check, "__name__", f"check{i}"): check for i, check in enumerate(checks)}
        self.timeout = timeout
        self.draining = False
        self._drain_hooks: list[DrainHook] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()

    def on_drain(self, hook: DrainHook) -> None:
        """Run `hook` in the background as soon as draining starts."""
        self._drain_hooks.append(hook)

    def start_draining(self) -> None:
        """From now on readiness answers 503; the drain hooks start (call on the app's event loop)."""
        if self.draining:
            return
        log.info("draining: readiness now answers 503")
        self.draining = True
        for hook in self._drain_hooks:
            task = asyncio.get_running_loop().create_task(hook(), name="atlas-drain-hook")
            self._hook_tasks.add(task)
            task.add_done_callback(self._hook_done)

    def _hook_done(self, task: asyncio.Task[None]) -> None:
        self._hook_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a drain hook failed", exc_info=task.exception())

    async def evaluate(self) -> tuple[bool, dict[str, str]]:
        """Run every check; `(all passed, {name: "ok" or the reason it failed})`."""
        names = list(self.checks)
        outcomes = await asyncio.gather(*(self._run(self.checks[name]) for name in names))
        results = dict(zip(names, outcomes, strict=True))
        return all(outcome == "ok" for outcome in outcomes), results

    async def _run(self, check: ReadinessCheck) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                outcome = await check()
        except TimeoutError:
            return f"timed out after {self.timeout}s"
        except Exception as error:
            return f"failed: {type(error).__name__}: {error}"
        return "failed: returned False" if outcome is False else "ok"

    async def endpoint(self, request: StarletteRequest) -> Response:
        """`GET /api/readyz`."""
        if self.draining:
            return _not_ready("the service is shutting down", {})
        ready, results = await self.evaluate()
        if not ready:
            return _not_ready("a readiness check failed", results)
        return JSONResponse({"status": "ready", "checks": results})


def _not_ready(detail: str, checks: dict[str, str]) -> Response:
    error = {"status": "503", "title": "Service Unavailable", "detail": detail}
    return JsonApiResponse({"errors": [error], "meta": {"checks": checks}}, status_code=503)


async def health_endpoint(request: StarletteRequest) -> Response:
    """`GET /api/health`: the process is alive."""
    return JSONResponse({"status": "ok"})
