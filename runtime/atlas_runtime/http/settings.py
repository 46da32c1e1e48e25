"""Outbound HTTP settings and the base URL of each called service."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_runtime.errors import ConfigurationError


class ClientSettings(BaseSettings):
    """Timeouts and pool of outbound calls.

    Attributes:
        timeout: `HTTP_CLIENT_TIMEOUT`, seconds one attempt may take (default 10).
        deadline: `HTTP_CLIENT_DEADLINE`, seconds one call may take, retries included (default 30).
        max_connections: `HTTP_CLIENT_MAX_CONNECTIONS` (default 100).
        max_keepalive: `HTTP_CLIENT_MAX_KEEPALIVE`, idle connections kept (default 10; one
            client serves one service, so this is the per-host figure).
        keepalive_expiry: `HTTP_CLIENT_KEEPALIVE_EXPIRY`, seconds an idle connection is kept (90).
    """

    model_config = SettingsConfigDict(env_prefix="HTTP_CLIENT_", extra="ignore")

    timeout: float = Field(default=10.0, gt=0)
    deadline: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=100, ge=1)
    max_keepalive: int = Field(default=10, ge=0)
    keepalive_expiry: float = Field(default=90.0, ge=0)


def env_name(service: str) -> str:
    """`<NAME>_SERVICE_URL` for a service name (`drop-information` -> `DROP_INFORMATION_SERVICE_URL`)."""
    return re.sub(r"[^A-Z0-9]+", "_", service.upper()).strip("_") + "_SERVICE_URL"


def service_base_url(service: str, environ: Mapping[str, str] | None = None) -> str:
    """The base URL of a service: `<NAME>_SERVICE_URL`, else `BASE_SERVICE_URL`; ends with `/`.

    Raises:
        ConfigurationError: neither variable is set.
    """
    environ = os.environ if environ is None else environ
    name = env_name(service)
    url = environ.get(name) or environ.get("BASE_SERVICE_URL")
    if not url:
        raise ConfigurationError(
            f"no URL for service {service!r}: set {name} (direct) or BASE_SERVICE_URL (the ingress), "
            "e.g. http://atlas-ingress.example.svc.cluster.local/api/"
        )
    return url if url.endswith("/") else url + "/"
