"""Durations of the spec language: `250ms`, `30s`, `5m`, `1h`, `7d`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?(ms|s|m|h|d)$"
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(DURATION_PATTERN)
_EXPECTED = "a number with a unit: `250ms`, `30s`, `5m`, `1h` or `7d`"


class DurationError(ValueError):
    """A duration string does not follow the grammar."""


def parse_duration(text: str) -> timedelta:
    """Parse a spec duration.

    Args:
        text: a positive number followed by one of the units `ms`, `s`, `m`, `h`, `d`.

    Returns:
        The duration as a `timedelta`.

    Raises:
        DurationError: the text is not a duration, or is zero.
    """
    match = _DURATION.match(text.strip())
    if match is None:
        raise DurationError(f"`{text}` is not a duration; expected {_EXPECTED}")
    number = float(text.strip()[: -len(match.group(2))])
    if number <= 0:
        raise DurationError(f"`{text}` must be longer than zero")
    return timedelta(seconds=number * _UNIT_SECONDS[match.group(2)])


def format_duration(value: timedelta) -> str:
    """Write a duration back in the largest unit that represents it exactly."""
    millis = round(value.total_seconds() * 1000)
    for unit, factor in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis % factor == 0:
            return f"{millis // factor}{unit}"
    return f"{millis}ms"


def _validate_duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str):
        hint = (
            f"; write `{value}s` for seconds"
            if isinstance(value, int | float) and not isinstance(value, bool)
            else ""
        )
        raise PydanticCustomError(
            "bad_duration",
            "`{value}` is not a duration{hint}",
            {"value": value, "hint": hint, "expected": _EXPECTED},
        )
    try:
        return parse_duration(value)
    except DurationError as error:
        raise PydanticCustomError(
            "bad_duration", "{reason}", {"reason": str(error).split(";")[0], "expected": _EXPECTED}
        ) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_validate_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "description": "e.g. 250ms, 30s, 5m, 1h, 7d"}
    ),
]
"""A positive duration written with a unit; a `timedelta` in Python."""
