"""Per-request cost of the runtime's REST stack versus a minimal FastAPI endpoint, at the ASGI level.

The same three apps as `rest_get.py` (baseline FastAPI, runtime with ES256 token
verification, runtime with auth off), each reading one Redis key, are called directly
as ASGI apps in one process: no sockets, no HTTP parsing, no load generator. What is
left is exactly what the runtime adds (ids, trace, metrics, body limit, token, tenant,
JSON:API) next to FastAPI's own routing and the Redis client. The figure is this
process's CPU time per request (waiting on Redis costs none, so a busy machine blurs it
less than wall time). Rounds alternate between the apps; the cheapest round of each is
reported.

    python bench/rest_asgi.py [--requests 3000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import Any

import redis.asyncio as redis
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import ASGIApp, Message

from atlas_runtime.auth import AuthSettings
from atlas_runtime.auth.testing import KeyPair, token_claims
from atlas_runtime.rest import Endpoint, Request, create_app

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:16379/0")
ISSUER, AUDIENCE = "https://id.bench", "atlas"
TENANT_ID = "083839c6-c47c-42a6-9585-76492795d123"


class Thing(BaseModel):
    id: int
    value: str | None


def build_apps(client: redis.Redis, key: str, keys: KeyPair) -> dict[str, ASGIApp]:
    baseline = FastAPI()

    @baseline.get("/api/things/{thing_id}")
    async def get_thing(thing_id: int) -> dict[str, Any]:
        value = await client.get(key)
        return {"id": thing_id, "value": value.decode() if isinstance(value, bytes) else value}

    async def get(ctx: object, request: Request) -> Thing:
        value = await client.get(key)
        return Thing(id=request.params["id"], value=value.decode() if isinstance(value, bytes) else value)

    endpoints = [Endpoint("GET", "/things/{id}", get, "things", params={"id": int})]
    on = AuthSettings(public_key=keys.public_pem, issuer=ISSUER, audience=AUDIENCE)
    return {
        "baseline": baseline,
        "runtime": create_app("bench", auth=on, endpoints=endpoints),
        "runtime-auth-off": create_app("bench", auth=AuthSettings(mode="off"), endpoints=endpoints),
    }


def scope_for(token: str) -> dict[str, Any]:
    headers = [
        (b"host", b"bench"),
        (b"tenant_id", TENANT_ID.encode()),
        (b"region", b"GMS"),
        (b"major_version", b"83"),
        (b"minor_version", b"1"),
        (b"authorization", f"Bearer {token}".encode()),
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/things/7",
        "raw_path": b"/api/things/7",
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


async def main(requests: int, rounds: int) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    key = f"atlas:bench:rest-asgi:{uuid.uuid4().hex}"
    await client.set(key, "x" * 64, ex=600)
    keys = KeyPair.generate("ES256")
    scope = scope_for(keys.sign(token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=TENANT_ID)))
    apps = build_apps(client, key, keys)
    best: dict[str, float] = {}
    try:
        for app in apps.values():
            for _ in range(200):  # warm-up
                await call(app, scope)
        for number in range(1, rounds + 1):
            for name, app in apps.items():
                cost = await per_request_us(app, scope, requests)
                best[name] = min(best.get(name, float("inf")), cost)
                print(f"round {number} {name:>17}: {cost:7.0f} us CPU/request", flush=True)
    finally:
        await client.delete(key)
        await client.aclose()
    base = best["baseline"]
    print(f"\nfastest of {rounds} rounds of {requests} requests, one process, no network")
    print(f"{'app':>17} {'CPU us/request':>15} {'capacity vs baseline':>21}")
    for name, cost in best.items():
        print(f"{name:>17} {cost:15.0f} {base / cost:21.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.requests, arguments.rounds))
