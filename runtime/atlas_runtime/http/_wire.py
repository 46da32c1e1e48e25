"""Small wire helpers of the client: `Retry-After` parsing and compact JSON bodies."""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any

from atlas_runtime.http import _httpx


def retry_after(response: _httpx.Response) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
