"""Integer-field arithmetic on JSON text, shared by the in-process backend.

It mirrors the Redis backend's Lua script: only the digits of one top-level field
change, the rest of the document stays byte-for-byte the same.
"""

from __future__ import annotations

import json


def add_to_int_field(
    text: str, field: str, delta: int, minimum: int | None, maximum: int | None
) -> tuple[str, int]:
    """Return the new JSON text and the field's new value (clamped to [minimum, maximum])."""
    document = json.loads(text)
    if not isinstance(document, dict) or field not in document:
        raise ValueError(f"field {field!r} is missing")
    current = document[field]
    if isinstance(current, bool) or not isinstance(current, int):
        raise ValueError(f"field {field!r} is not an integer")
    value = current + delta
    if minimum is not None:
        value = max(minimum, value)
    if maximum is not None:
        value = min(maximum, value)
    document[field] = value
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False), value
