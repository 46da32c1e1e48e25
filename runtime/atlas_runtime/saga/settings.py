"""Settings of the saga orchestrator, read once at start-up (pydantic-settings, prefix `SAGA_`).

| variable | default | meaning |
|---|---|---|
| `SAGA_DEFAULT_TIMEOUT` | 5m | deadline of a saga whose spec sets no `timeout` |
| `SAGA_REAPER_INTERVAL` | 30s | how often the reaper looks for overdue sagas |
| `SAGA_REAPER_BATCH` | 100 | most sagas one reaper transaction claims |
| `SAGA_RECOVERY_ENABLED` | true | drive every running saga on at start-up |
| `SAGA_RETENTION` | 7d | finished sagas older than this are deleted by the sweep |
| `SAGA_CONFLICT_RETRIES` | 3 | re-reads after a version conflict before giving up |

Durations accept the spec grammar (`250ms`, `30s`, `5m`, `1h`, `7d`) or seconds.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_spec.durations import parse_duration


def _duration(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        return parse_duration(text)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class SagaSettings(BaseSettings):
    """The orchestrator's tunables; see the module docstring for the environment variables."""

    model_config = SettingsConfigDict(env_prefix="SAGA_", extra="ignore", frozen=True)

    default_timeout: Duration = timedelta(minutes=5)
    reaper_interval: Duration = timedelta(seconds=30)
    reaper_batch: int = Field(default=100, ge=1)
    recovery_enabled: bool = True
    retention: Duration = timedelta(days=7)
    conflict_retries: int = Field(default=3, ge=0)
