"""Cross-replica serialization: PostgreSQL advisory lock keys, and a file lock for SQLite.

Advisory lock keys are 64-bit integers derived from a readable name (per service,
per purpose), so two services sharing one database never contend for the same key,
unlike a single constant per database.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name` (e.g. `atlas:outbox:parties`)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@asynccontextmanager
async def file_lock(path: Path) -> AsyncIterator[None]:
    """Hold an exclusive `flock` on `path` (created if missing); waiting happens off the event loop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
