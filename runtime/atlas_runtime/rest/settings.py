"""REST server settings, read once from `REST_*` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RestSettings(BaseSettings):
    """Where and how a service serves HTTP.

    Attributes:
        host: `REST_HOST`, default 127.0.0.1.
        port: `REST_PORT`, default 8080.
        max_body_bytes: `REST_MAX_BODY_BYTES`, default 1 MiB; larger bodies get 413.
        shutdown_grace: `REST_SHUTDOWN_GRACE`, seconds between the readiness flip and
            closing the listener, so load balancers stop sending first (default 5).
        drain_timeout: `REST_DRAIN_TIMEOUT`, seconds in-flight requests get to finish
            once the listener is closed (default 25).
        readiness_timeout: `REST_READINESS_TIMEOUT`, seconds each readiness check may take.
        docs: `REST_DOCS`, serve OpenAPI at /api/openapi.json and /api/docs (default off).
    """

    model_config = SettingsConfigDict(env_prefix="REST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    shutdown_grace: float = Field(default=5.0, ge=0)
    drain_timeout: float = Field(default=25.0, ge=0)
    readiness_timeout: float = Field(default=2.0, gt=0)
    docs: bool = False
