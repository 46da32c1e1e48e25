"""Throughput of a runtime-served GET versus a minimal hand-written FastAPI endpoint.

Both endpoints read the same Redis key (plain `redis.asyncio` GET on the shared test
Redis) and answer JSON. The runtime one goes through everything a generated service
has: request id, trace context, metrics, body limit, bearer-token verification (ES256),
tenant binding, JSON:API rendering. Each server runs alone in its own process under
uvicorn on loopback; the load comes from concurrent httpx clients in another process.
Rounds alternate between the variants and the best round of each is reported.

Two figures per variant: requests per second, and the server's CPU time per request
(from /proc). On a busy machine the second is the steadier one: it is what bounds
a replica's capacity, and it does not depend on how fast the load generator is.

    python bench/rest_get.py [--seconds 4] [--rounds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from typing import Any

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:16379/0")
ISSUER, AUDIENCE = "https://id.bench", "atlas"
TENANT_ID = "083839c6-c47c-42a6-9585-76492795d123"
VARIANTS = ("baseline", "runtime", "runtime-auth-off")


# -- servers (run in a child process) -----------------------------------------------


def build_app(variant: str, key: str, public_pem: str) -> Any:
    import redis.asyncio as redis
    from fastapi import FastAPI
    from pydantic import BaseModel

    client = redis.Redis.from_url(REDIS_URL)
    if variant == "baseline":
        app = FastAPI()

        @app.get("/api/things/{thing_id}")
        async def get_thing(thing_id: int) -> dict[str, Any]:
            value = await client.get(key)
            return {"id": thing_id, "value": value.decode() if isinstance(value, bytes) else value}

        return app

    from atlas_runtime.auth import AuthSettings
    from atlas_runtime.rest import Endpoint, Request, create_app

    class Thing(BaseModel):
        id: int
        value: str | None

    async def get(ctx: object, request: Request) -> Thing:
        value = await client.get(key)
        return Thing(id=request.params["id"], value=value.decode() if isinstance(value, bytes) else value)

    auth = (
        AuthSettings(mode="off")
        if variant == "runtime-auth-off"
        else AuthSettings(public_key=public_pem, issuer=ISSUER, audience=AUDIENCE)
    )
    return create_app(
        "bench", auth=auth, endpoints=[Endpoint("GET", "/things/{id}", get, "things", params={"id": int})]
    )


def serve(variant: str, port: int, key: str, public_pem: str) -> None:
    import logging

    import uvicorn

    logging.getLogger("atlas_runtime").setLevel(logging.ERROR)
    app = build_app(variant, key, public_pem)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- load (run in a child process) -----------------------------------------------


async def load(url: str, seconds: float, concurrency: int, headers: dict[str, str]) -> dict[str, float]:
    import httpx

    done = 0
    failed = 0
    # One client (one keep-alive connection) per worker: a single shared httpx pool is itself the
    # bottleneck under concurrency and would hide the servers' differences.
    clients = [httpx.AsyncClient(headers=headers, timeout=10) for _ in range(concurrency)]
    for client in clients:  # warm-up: connections, caches
        for _ in range(5):
            await client.get(url)
    ends = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal done, failed
        while time.perf_counter() < ends:
            response = await client.get(url)
            if response.status_code == 200:
                done += 1
            else:
                failed += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(client) for client in clients))
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()
    return {"rps": done / elapsed, "done": done, "failed": failed}


# -- driver ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, timeout: float = 20.0) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_round(variant: str, args: argparse.Namespace, key: str, keys: Any, token: str) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", variant, str(port), key], stdin=subprocess.PIPE, text=True
    )
    assert server.stdin is not None
    server.stdin.write(keys.public_pem)
    server.stdin.close()
    try:
        wait_ready(port)
        headers = {"TENANT_ID": TENANT_ID, "REGION": "GMS", "MAJOR_VERSION": "83", "MINOR_VERSION": "1"}
        if variant == "runtime":
            headers["Authorization"] = f"Bearer {token}"
        url = f"http://127.0.0.1:{port}/api/things/7"
        spec = json.dumps([url, args.seconds, args.concurrency, headers])
        cpu_before = cpu_seconds(server.pid)
        out = subprocess.run(
            [sys.executable, __file__, "load", spec], check=True, capture_output=True, text=True
        ).stdout
        result: dict[str, float] = json.loads(out)
        # Includes the load's warm-up requests; the same small number for every variant.
        result["cpu_us"] = (cpu_seconds(server.pid) - cpu_before) / result["done"] * 1e6
        return result
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    import redis

    from atlas_runtime.auth.testing import KeyPair, token_claims

    key = f"atlas:bench:rest:{uuid.uuid4().hex}"
    store = redis.Redis.from_url(REDIS_URL)
    store.set(key, "x" * 64, ex=600)
    keys = KeyPair.generate("ES256")
    token = keys.sign(token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=TENANT_ID, lifetime=3600))
    best: dict[str, float] = {}
    cheapest: dict[str, float] = {}
    try:
        for round_number in range(1, args.rounds + 1):
            for variant in VARIANTS:
                result = run_round(variant, args, key, keys, token)
                if result["failed"]:
                    raise SystemExit(f"{variant}: {result['failed']} requests failed")
                best[variant] = max(best.get(variant, 0.0), result["rps"])
                cheapest[variant] = min(cheapest.get(variant, float("inf")), result["cpu_us"])
                print(
                    f"round {round_number} {variant:>17}: {result['rps']:8.0f} req/s"
                    f" {result['cpu_us']:7.0f} us server CPU/request",
                    flush=True,
                )
    finally:
        store.delete(key)
    base, base_cpu = best["baseline"], cheapest["baseline"]
    print(f"\nbest of {args.rounds} rounds, {args.seconds:.0f}s each, {args.concurrency} httpx clients")
    print(f"{'variant':>17} {'req/s':>8} {'vs baseline':>12} {'CPU us/req':>11} {'capacity vs baseline':>21}")
    for variant in VARIANTS:
        print(
            f"{variant:>17} {best[variant]:8.0f} {best[variant] / base:12.0%}"
            f" {cheapest[variant]:11.0f} {base_cpu / cheapest[variant]:21.0%}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.stdin.read())
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        url, seconds, concurrency, headers = json.loads(sys.argv[2])
        print(json.dumps(asyncio.run(load(url, seconds, concurrency, headers))))
    else:
        main()
