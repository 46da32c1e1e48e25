"""Throughput of a runtime-served registry GET versus a minimal hand-written FastAPI endpoint.

The runtime variant is a service assembled by `atlas_runtime.service.Service` from a
`ServiceDescription` with one Redis registry and one `get` endpoint over it, exactly as
a generated service's `service.py` declares `GET /things/{id}`: the route reads the
entry through the registry (tenant-scoped key, JSON decoded into the value model) and
goes through everything a generated service has: request id, trace context, metrics,
body limit, bearer-token verification (ES256), tenant binding, JSON:API rendering.
`runtime-auth-off` is the same service with `AUTH_MODE=off`.

The baseline is FastAPI plus a plain `redis.asyncio` GET of the same stored entry (the
registry's own Redis key), answering the decoded JSON. The entry is written once,
through the registry, before the rounds.

Each server runs alone in its own process under uvicorn on loopback; the load comes
from concurrent httpx clients in another process. Rounds alternate between the
variants and the best round of each is reported, with its ratio to the baseline and
whether the target (the runtime at >= 70% of the baseline's req/s) is met. The server's
CPU time per request (from /proc) is printed too: on a busy machine it is the steadier
figure, and it is what bounds a replica's capacity.

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

from pydantic import BaseModel

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:16379/0")
ISSUER, AUDIENCE = "https://id.bench", "atlas"
TENANT_ID = "083839c6-c47c-42a6-9585-76492795d123"
TENANT_HEADERS = {"TENANT_ID": TENANT_ID, "REGION": "GMS", "MAJOR_VERSION": "83", "MINOR_VERSION": "1"}
THING_ID = 7
VARIANTS = ("baseline", "runtime", "runtime-auth-off")
TARGET = 0.70


class Thing(BaseModel):
    """The registry's value model, as a generated `models.py` would declare it."""

    id: int
    name: str
    value: str


# -- the apps (shared with rest_asgi.py) ---------------------------------------------


def describe() -> Any:
    """The description of a service with one registry and a `get` route over it."""
    from atlas_runtime.service import EndpointDecl, RegistryDecl, ServiceDescription, ServiceSettings

    return ServiceDescription(
        name="bench",
        settings=ServiceSettings,
        registries=(RegistryDecl(name="things", key=int, value=Thing, kind="registry", scope="tenant"),),
        endpoints=(
            EndpointDecl(
                path="/things/{id}",
                method="GET",
                action="get",
                resource="things",
                registry="things",
                params={"id": int},
            ),
        ),
    )


def runtime_service(env: str) -> Any:
    """The assembled service, its state on the shared Redis under the key prefix `env`."""
    from atlas_runtime.service import Service, ServiceSettings

    return Service(describe(), settings=ServiceSettings(), environ={"REDIS_URL": REDIS_URL, "ATLAS_ENV": env})


def baseline_app(entity_key: str) -> Any:
    """Minimal FastAPI: one plain Redis GET of the stored entry, its JSON answered as is."""
    import redis.asyncio as redis
    from fastapi import FastAPI, HTTPException

    client = redis.Redis.from_url(REDIS_URL)
    app = FastAPI()

    @app.get("/api/things/{thing_id}")
    async def get_thing(thing_id: int) -> Any:
        value = await client.get(entity_key)
        if value is None:
            raise HTTPException(status_code=404)
        return json.loads(value)

    return app


def build_app(variant: str, *, env: str, entity_key: str, public_pem: str) -> Any:
    """The ASGI app of `variant`: the baseline, or the service with auth on (ES256) or off."""
    if variant == "baseline":
        return baseline_app(entity_key)
    from atlas_runtime.auth import AuthSettings

    auth = (
        AuthSettings(mode="off")
        if variant == "runtime-auth-off"
        else AuthSettings(public_key=public_pem, issuer=ISSUER, audience=AUDIENCE)
    )
    return runtime_service(env).create_app(auth=auth)


async def seed(env: str) -> str:
    """Store the entry through the service's own registry; returns its Redis key."""
    from atlas_runtime.tenant import Tenant, as_tenant

    tenant = Tenant.from_http_headers(TENANT_HEADERS)
    async with runtime_service(env) as service:
        registry = service.state.registries["things"]
        with as_tenant(tenant):
            await registry.put(THING_ID, Thing(id=THING_ID, name="bench", value="x" * 64))
            return str(registry.space().entity(str(THING_ID)))


def cleanup(env: str) -> None:
    """Delete every key of the bench's key prefix."""
    import redis

    store = redis.Redis.from_url(REDIS_URL)
    keys = list(store.scan_iter(match=f"{env}:atlas:*"))
    if keys:
        store.delete(*keys)
    store.close()


def serve(variant: str, port: int, env: str, entity_key: str, public_pem: str) -> None:
    import logging

    import uvicorn

    logging.getLogger("atlas_runtime").setLevel(logging.ERROR)
    app = build_app(variant, env=env, entity_key=entity_key, public_pem=public_pem)
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


def check_answer(url: str, headers: dict[str, str]) -> None:
    """Refuse to measure a server that does not answer the stored entry."""
    import httpx

    body = httpx.get(url, headers=headers, timeout=10).json()
    attributes = body["data"]["attributes"] if "data" in body else body
    if attributes.get("name") != "bench":
        raise SystemExit(f"{url} answered {body!r}, not the stored entry")


def run_round(
    variant: str, args: argparse.Namespace, env: str, entity_key: str, keys: Any, token: str
) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", variant, str(port), env, entity_key],
        stdin=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    server.stdin.write(keys.public_pem)
    server.stdin.close()
    try:
        wait_ready(port)
        headers = dict(TENANT_HEADERS)
        if variant == "runtime":
            headers["Authorization"] = f"Bearer {token}"
        url = f"http://127.0.0.1:{port}/api/things/{THING_ID}"
        check_answer(url, headers)
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


def report(args: argparse.Namespace, best: dict[str, float], cheapest: dict[str, float]) -> None:
    """The best round of each variant next to the baseline, and the verdict on the target."""
    base, base_cpu = best["baseline"], cheapest["baseline"]
    print(f"\nbest of {args.rounds} rounds, {args.seconds:.0f}s each, {args.concurrency} httpx clients")
    print(f"{'variant':>17} {'req/s':>8} {'vs baseline':>12} {'CPU us/req':>11} {'capacity vs baseline':>21}")
    for variant in VARIANTS:
        print(
            f"{variant:>17} {best[variant]:8.0f} {best[variant] / base:12.0%}"
            f" {cheapest[variant]:11.0f} {base_cpu / cheapest[variant]:21.0%}"
        )
    ratio = best["runtime"] / base
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(f"\ntarget: runtime (auth on) at >= {TARGET:.0%} of the baseline's req/s: {ratio:.0%}, {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    from atlas_runtime.auth.testing import KeyPair, token_claims

    env = f"bench-{uuid.uuid4().hex[:12]}"
    keys = KeyPair.generate("ES256")
    token = keys.sign(token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=TENANT_ID, lifetime=3600))
    best: dict[str, float] = {}
    cheapest: dict[str, float] = {}
    try:
        entity_key = asyncio.run(seed(env))
        for round_number in range(1, args.rounds + 1):
            for variant in VARIANTS:
                result = run_round(variant, args, env, entity_key, keys, token)
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
        cleanup(env)
    report(args, best, cheapest)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.stdin.read())
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        url, seconds, concurrency, headers = json.loads(sys.argv[2])
        print(json.dumps(asyncio.run(load(url, seconds, concurrency, headers))))
    else:
        main()
