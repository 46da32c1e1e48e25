"""`atlas-gen run SERVICE` renders if needed, imports handlers from the workspace and serves the service."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

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


def test_run_serves_a_scaffolded_service_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`scaffold` then `run parties` serves REST on REST_PORT and shuts down without error on SIGTERM."""
    shutil.copytree(ROOT / "tests" / "render" / "fixtures" / "parties" / "specs", tmp_path / "specs")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "BOOTSTRAP_SERVERS", "DB_HOST"}}
    env.update(
        AUTH_MODE="off",
        REST_PORT=str(port),
        REST_SHUTDOWN_GRACE="0",
        COMMAND_TOPIC_PARTY="party-commands",
        EVENT_TOPIC_PARTY_STATUS="party-status",
    )
    scaffold = subprocess.run([sys.executable, *CLI, "scaffold"], cwd=tmp_path, env=env, capture_output=True)
    assert scaffold.returncode == 0, scaffold.stderr
    process = subprocess.Popen(
        [sys.executable, *CLI, "run", "parties"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/api/health", process)
        headers = {
            "TENANT_ID": str(uuid.uuid4()),
            "REGION": "GMS",
            "MAJOR_VERSION": "83",
            "MINOR_VERSION": "1",
        }
        listed = httpx.get(f"http://127.0.0.1:{port}/api/parties", headers=headers, timeout=5)
        assert listed.status_code == 200 and listed.json()["data"] == []
        assert (tmp_path / "generated" / "atlas_parties" / "service.py").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done.
    assert process.returncode in (0, -signal.SIGTERM), stderr
    assert "Traceback" not in stderr
    assert "REDIS_URL is not set" in stderr
