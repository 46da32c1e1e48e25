"""Environment settings every service reads, once, at start-up (pydantic-settings).

A generated `settings.py` subclasses `ServiceSettings`, adding one field per topic token
and per called service and the spec's own defaults. Env var names are the field names in
upper case. Unset backends mean embedded defaults (announced at start-up).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from atlas_runtime.errors import ConfigurationError

S = TypeVar("S", bound=BaseSettings)

LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
]


class ServiceSettings(BaseSettings):
    """Settings shared by every generated service."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    rest_host: str = Field("127.0.0.1", description="Address the REST server binds.")
    rest_port: int = Field(8080, description="Port of the REST server.")
    redis_url: str | None = Field(None, description="Redis URL; in-process state when unset.")
    bootstrap_servers: str | None = Field(
        None, description="Kafka bootstrap servers; in-process bus when unset."
    )
    kafka_consumer_group: str = Field(
        "", description="Kafka consumer group; the spec's consumer_group when unset."
    )
    db_host: str | None = Field(None, description="PostgreSQL host; SQLite when unset.")
    db_port: int = Field(5432, description="PostgreSQL port.")
    db_user: str = Field("atlas", description="PostgreSQL user.")
    db_password: str = Field("", description="PostgreSQL password.")
    db_name: str = Field("atlas", description="PostgreSQL database.")
    db_max_open_conns: int = Field(10, description="Most open database connections.")
    db_max_idle_conns: int = Field(5, description="Most idle database connections kept.")
    db_conn_max_lifetime: float = Field(300.0, description="Seconds before a connection is recycled.")
    db_conn_max_idle_time: float = Field(180.0, description="Seconds an idle connection is kept.")
    auth_mode: Literal["on", "off"] = Field(
        "on", description="`off` serves without tokens (warned at start-up)."
    )
    auth_issuer: str | None = Field(None, description="Expected JWT `iss`.")
    auth_audience: str | None = Field(None, description="Expected JWT `aud`.")
    auth_jwks_url: str | None = Field(None, description="JWKS URL of the token signing keys.")
    auth_public_key: str | None = Field(None, description="PEM public key of the token signer.")
    base_service_url: str | None = Field(None, description="Ingress URL for calls without a direct URL.")
    log_level: LogLevel = Field("INFO", description="Log level: DEBUG, INFO, WARNING, ERROR or CRITICAL.")


def load_settings(settings_class: type[S], environ: Mapping[str, str] | None = None) -> S:
    """Read the settings once, turning every missing or bad variable into one clear error.

    Args:
        settings_class: the generated `Settings` (or any `BaseSettings`).
        environ: variables that win over the process environment.

    Raises:
        ConfigurationError: naming every missing or malformed environment variable.
    """
    fields = settings_class.model_fields
    overrides: dict[str, Any] = {
        name: value for key, value in (environ or {}).items() if (name := key.lower()) in fields
    }
    try:
        return settings_class(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]).upper() if item["loc"] else "?"
            problems.append(f"{name}: {'not set' if item['type'] == 'missing' else item['msg']}")
        raise ConfigurationError(
            "the service cannot start, environment variables are missing or invalid: " + "; ".join(problems)
        ) from error
