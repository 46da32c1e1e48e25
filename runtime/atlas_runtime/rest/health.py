"""Liveness (`GET /api/health`) and readiness (`GET /api/readyz`).

Liveness says only that the process answers. Readiness runs every check (Redis,
Kafka, the database...) concurrently, each bounded by a timeout, and answers 503 as
soon as shutdown begins, before any request is refused, so load balancers stop
routing here while in-flight requests drain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, Response

from atlas_runtime.rest.problems import JsonApiResponse

log = logging.getLogger("atlas_runtime.rest")

ReadinessCheck = Callable[[], Awaitable[object]]
"""An async check: ready unless it raises, times out, or returns False."""


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

    def start_draining(self) -> None:
        """From now on readiness answers 503."""
        if not self.draining:
            log.info("draining: readiness now answers 503")
        self.draining = True

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
