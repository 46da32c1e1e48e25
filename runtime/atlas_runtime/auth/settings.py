"""Authentication settings, read once from `AUTH_*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_runtime.errors import ConfigurationError


class AuthSettings(BaseSettings):
    """How a service checks incoming tokens and obtains its own.

    Incoming (ingress) tokens: `AUTH_MODE` (`on` by default, `off` serves without
    tokens), `AUTH_JWKS_URL` or `AUTH_PUBLIC_KEY` (one or more PEM public keys),
    `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_LEEWAY` (seconds of clock skew, default 30).

    Outgoing (service-to-service) tokens: either client credentials
    (`AUTH_TOKEN_URL`, `AUTH_CLIENT_ID`, `AUTH_CLIENT_SECRET`) or a private key that
    signs them (`AUTH_SERVICE_KEY`, PEM; `AUTH_SERVICE_KEY_ID` names it in the header).
    """

    model_config = SettingsConfigDict(env_prefix="AUTH_", extra="ignore")

    mode: Literal["on", "off"] = "on"
    jwks_url: str | None = None
    public_key: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway: float = Field(default=30.0, ge=0)
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_cooldown_seconds: float = Field(default=30.0, ge=0)
    service_scope: str = "atlas:service"

    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_scope: str | None = None
    service_key: str | None = None
    service_key_id: str | None = None
    service_token_ttl: float = Field(default=300.0, gt=0)
    service_scopes: str = ""

    @property
    def enabled(self) -> bool:
        return self.mode == "on"

    def check_ingress(self) -> None:
        """Refuse a configuration that would serve requests without checking them.

        Raises:
            ConfigurationError: auth is on but no key source, issuer or audience is set.
        """
        if not self.enabled:
            return
        if not (self.jwks_url or self.public_key):
            raise ConfigurationError(
                "authentication is on but no keys are configured: set AUTH_JWKS_URL or AUTH_PUBLIC_KEY, "
                "or set AUTH_MODE=off to serve without tokens (local trials only)"
            )
        missing = [
            name
            for name, value in (("AUTH_ISSUER", self.issuer), ("AUTH_AUDIENCE", self.audience))
            if not value
        ]
        if missing:
            raise ConfigurationError(f"authentication is on but {' and '.join(missing)} is not set")
