"""`atlas-gen run SERVICE` renders if needed, imports handlers from the workspace and serves the service."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from atlas_runtime.service.testing import tenant_headers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLI = ("-m", "atlas_gen")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the service exited early:\n{process.communicate()[1]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s")


@dataclass
class Served:
    """A CLI verb serving on a port: its base URL, and what it logged once stopped."""

    base: str
    stderr: str = ""


@contextmanager
def _serving(args: list[str], cwd: Path, env: dict[str, str], port: int) -> Iterator[Served]:
    """Run `atlas-gen ARGS` until healthy; on exit SIGTERM it and check it stopped cleanly."""
    process = subprocess.Popen(
        [sys.executable, *CLI, *args],
        cwd=cwd,
        env={**env, "REST_SHUTDOWN_GRACE": "0"},
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served(f"http://127.0.0.1:{port}/api")
    try:
        _wait_healthy(f"{served.base}/health", process)
        yield served
    finally:
        process.send_signal(signal.SIGTERM)
        _, served.stderr = process.communicate(timeout=30)
    # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done.
    assert process.returncode in (0, -signal.SIGTERM), served.stderr
    assert "Traceback" not in served.stderr


def test_run_serves_a_scaffolded_service_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`scaffold` then `run parties` serves REST on REST_PORT and shuts down without error on SIGTERM."""
    shutil.copytree(ROOT / "tests" / "render" / "fixtures" / "parties" / "specs", tmp_path / "specs")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "BOOTSTRAP_SERVERS", "DB_HOST"}}
    env.update(
        AUTH_MODE="off",
        REST_PORT=str(port),
        COMMAND_TOPIC_PARTY="party-commands",
        EVENT_TOPIC_PARTY_STATUS="party-status",
    )
    scaffold = subprocess.run([sys.executable, *CLI, "scaffold"], cwd=tmp_path, env=env, capture_output=True)
    assert scaffold.returncode == 0, scaffold.stderr
    with _serving(["run", "parties"], tmp_path, env, port) as served:
        listed = httpx.get(f"{served.base}/parties", headers=tenant_headers(), timeout=5)
        assert listed.status_code == 200 and listed.json()["data"] == []
        assert (tmp_path / "generated" / "atlas_parties" / "service.py").is_file()
    assert "REDIS_URL is not set" in served.stderr


def test_up_serves_the_example_ecosystem_without_auth_and_says_so(tmp_path: Path) -> None:
    """`atlas-gen up` in a copy of this workspace serves every example service on one port, auth off."""
    for item in ("specs", "logic"):
        shutil.copytree(ROOT / item, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "BOOTSTRAP_", "DB_", "AUTH_"))}
    with _serving(["up", "--port", str(port)], tmp_path, env, port) as served:
        headers = tenant_headers()
        body = {"data": {"type": "parties", "attributes": {"leader_id": 5}}}
        created = httpx.post(f"{served.base}/parties", json=body, headers=headers, timeout=5)
        assert created.status_code == 202, created.text
        deadline = time.monotonic() + 10
        while not (parties := httpx.get(f"{served.base}/parties", headers=headers, timeout=5).json()["data"]):
            assert time.monotonic() < deadline, "the created party never appeared"
            time.sleep(0.1)
        assert parties[0]["attributes"]["leader_id"] == 5
        assert httpx.get(f"{served.base}/parties", timeout=5).status_code == 400  # tenant headers required
    assert "AUTH_MODE=off" in served.stderr
    assert (tmp_path / "generated" / "atlas_drops" / "service.py").is_file()
