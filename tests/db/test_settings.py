"""Database settings: defaults, spec overrides, environment overrides and validation."""

from __future__ import annotations

import pytest
from sqlalchemy import make_url

from atlas_runtime.db import (
    DatabaseSettings,
    PoolConfig,
    PoolSpec,
    database_url,
    load_settings,
    parse_duration,
)
from atlas_runtime.errors import ConfigurationError

ENV_NAMES = (
    "DB_HOST",
    "DB_MAX_OPEN_CONNS",
    "DB_MAX_IDLE_CONNS",
    "DB_CONN_MAX_LIFETIME",
    "DB_CONN_MAX_IDLE_TIME",
    "DB_POOL_TIMEOUT",
    "DB_PORT",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300.0),
        ("300s", 300.0),
        ("250ms", 0.25),
        ("1h", 3600.0),
        ("7d", 604800.0),
        ("12", 12.0),
        ("0", 0.0),
    ],
)
def test_durations_in_accepted_forms_parse(text: str, seconds: float) -> None:
    """Durations with ms/s/m/h/d units or bare seconds parse to seconds."""
    assert parse_duration(text, name="X") == seconds


@pytest.mark.parametrize("text", ["5 minutes", "-1s", "m5", "", "1.2.3s"])
def test_bad_durations_name_the_variable(text: str) -> None:
    """An unparsable or negative duration raises ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match="DB_CONN_MAX_LIFETIME"):
        parse_duration(text, name="DB_CONN_MAX_LIFETIME")


def test_standard_defaults_apply_without_spec_or_env() -> None:
    """With nothing set the pool is 10 open, 5 idle, 5m lifetime, 3m idle time, 30s timeout."""
    assert load_settings().pool() == PoolConfig(10, 5, 300.0, 180.0, 30.0)


def test_spec_raises_defaults_and_env_overrides_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spec's pool block replaces the defaults and environment variables replace the spec."""
    spec = PoolSpec(max_open=30, max_idle=10, max_lifetime="10m", max_idle_time=60)
    assert load_settings().pool(spec) == PoolConfig(30, 10, 600.0, 60.0, 30.0)
    monkeypatch.setenv("DB_MAX_OPEN_CONNS", "40")
    monkeypatch.setenv("DB_CONN_MAX_IDLE_TIME", "90s")
    monkeypatch.setenv("DB_POOL_TIMEOUT", "2s")
    pool = load_settings().pool(spec)
    assert pool == PoolConfig(40, 10, 600.0, 90.0, 2.0)
    assert (pool.pool_size, pool.max_overflow) == (10, 30)


def test_small_max_open_pulls_the_default_idle_count_down() -> None:
    """An unset idle count never exceeds a max_open below the default idle count."""
    assert load_settings().pool(PoolSpec(max_open=3)).max_idle == 3


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DB_MAX_OPEN_CONNS": "-1"}, "DB_MAX_OPEN_CONNS=-1 must be at least 1"),
        ({"DB_MAX_IDLE_CONNS": "0"}, "DB_MAX_IDLE_CONNS=0 must be at least 1"),
        (
            {"DB_MAX_OPEN_CONNS": "4", "DB_MAX_IDLE_CONNS": "6"},
            "DB_MAX_IDLE_CONNS=6 is greater than DB_MAX_OPEN",
        ),
        ({"DB_CONN_MAX_LIFETIME": "5 min"}, "DB_CONN_MAX_LIFETIME='5 min' is not a duration"),
        ({"DB_CONN_MAX_IDLE_TIME": "-3m"}, "DB_CONN_MAX_IDLE_TIME"),
        ({"DB_POOL_TIMEOUT": "soon"}, "DB_POOL_TIMEOUT"),
    ],
)
def test_invalid_pool_values_are_rejected(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    """Invalid pool settings raise ConfigurationError naming the variable."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        load_settings().pool()


def test_unparsable_integer_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-integer DB_MAX_OPEN_CONNS raises ConfigurationError naming it."""
    monkeypatch.setenv("DB_MAX_OPEN_CONNS", "ten")
    with pytest.raises(ConfigurationError, match="DB_MAX_OPEN_CONNS='ten'"):
        load_settings()


def test_spec_idle_above_spec_open_names_the_spec_field() -> None:
    """A spec with max_idle above max_open is rejected naming the spec fields."""
    with pytest.raises(
        ConfigurationError, match=r"database.pool.max_idle=8 is greater than database.pool.max_open=4"
    ):
        load_settings().pool(PoolSpec(max_open=4, max_idle=8))


def test_postgres_url_escapes_credentials_and_carries_sslmode() -> None:
    """User, password and database with URL metacharacters survive a round trip; sslmode is kept."""
    settings = DatabaseSettings(
        host="db.internal", port=6543, user="us@er", password="p@ss:w/rd?#", name="my db", sslmode="require"
    )
    url = database_url(settings, service="svc")
    parsed = make_url(url.render_as_string(hide_password=False))
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.username, parsed.password, parsed.database) == ("us@er", "p@ss:w/rd?#", "my db")
    assert (parsed.host, parsed.port, parsed.query["sslmode"]) == ("db.internal", 6543, "require")


def test_sqlite_is_the_default_without_db_host(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without DB_HOST the URL names an aiosqlite file under ./.atlas/<service>.db."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    url = database_url(load_settings(), service="parties")
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == ".atlas/parties.db"
