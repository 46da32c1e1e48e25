"""Per-request cost of the runtime's REST stack versus a minimal FastAPI endpoint, at the ASGI level.

The same three apps as `rest_get.py` (built by its `build_app`): the baseline FastAPI
endpoint doing a plain Redis GET, and the service assembled from a description with one
registry and a `get` route over it, with ES256 token verification and with auth off.
They are called directly as ASGI apps in one process: no sockets, no HTTP parsing, no
load generator. What is left is exactly what the runtime adds (ids, trace, metrics,
body limit, token, tenant, registry decoding, JSON:API) next to FastAPI's own routing
and the Redis client. The figure is this process's CPU time per request (waiting on
Redis costs none, so a busy machine blurs it less than wall time). Rounds alternate
between the apps; the cheapest round of each is reported.

    python bench/rest_asgi.py [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from contextlib import AsyncExitStack
from typing import Any

from rest_get import (
    AUDIENCE,
    ISSUER,
    TENANT_HEADERS,
    TENANT_ID,
    THING_ID,
    VARIANTS,
    build_app,
    cleanup,
    seed,
)
from starlette.types import ASGIApp, Message

from atlas_runtime.auth.testing import KeyPair, token_claims


def scope_for(token: str) -> dict[str, Any]:
    path = f"/api/things/{THING_ID}"
    headers = [(name.lower().encode(), value.encode()) for name, value in TENANT_HEADERS.items()]
    headers += [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def call(app: ASGIApp, scope: dict[str, Any]) -> None:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    if status != 200:
        raise SystemExit(f"unexpected status {status}")


async def per_request_us(app: ASGIApp, scope: dict[str, Any], requests: int) -> float:
    """CPU time of this process per request: steadier than wall time on a shared machine."""
    started = time.process_time()
    for _ in range(requests):
        await call(app, scope)
    return (time.process_time() - started) / requests * 1e6


async def measure(apps: dict[str, ASGIApp], scope: dict[str, Any], requests: int, rounds: int) -> None:
    """Warm every app up, then time them in alternating rounds and print the cheapest of each."""
    best: dict[str, float] = {}
    for app in apps.values():
        for _ in range(200):  # warm-up
            await call(app, scope)
    for number in range(1, rounds + 1):
        for name, app in apps.items():
            cost = await per_request_us(app, scope, requests)
            best[name] = min(best.get(name, float("inf")), cost)
            print(f"round {number} {name:>17}: {cost:7.0f} us CPU/request", flush=True)
    base = best["baseline"]
    print(f"\nfastest of {rounds} rounds of {requests} requests, one process, no network")
    print(f"{'app':>17} {'CPU us/request':>15} {'capacity vs baseline':>21}")
    for name, cost in best.items():
        print(f"{name:>17} {cost:15.0f} {base / cost:21.0%}")


async def main(requests: int, rounds: int) -> None:
    env = f"bench-asgi-{uuid.uuid4().hex[:12]}"
    keys = KeyPair.generate("ES256")
    scope = scope_for(keys.sign(token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=TENANT_ID)))
    try:
        entity_key = await seed(env)
        apps = {
            variant: build_app(variant, env=env, entity_key=entity_key, public_pem=keys.public_pem)
            for variant in VARIANTS
        }
        async with AsyncExitStack() as lifespans:  # the services start and stop as under uvicorn
            for app in apps.values():
                await lifespans.enter_async_context(app.router.lifespan_context(app))
            await measure(apps, scope, requests, rounds)
    finally:
        cleanup(env)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
