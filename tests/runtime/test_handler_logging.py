"""`ctx.log` takes keyword fields, and LOG_LEVEL is validated and applied."""

from __future__ import annotations

import logging

import pytest

from atlas_runtime.errors import ConfigurationError
from atlas_runtime.service.context import HandlerLogger
from atlas_runtime.service.settings import ServiceSettings, load_settings


def test_keyword_fields_are_logged_and_kept_structured(caplog: pytest.LogCaptureFixture) -> None:
    """Fields of the call join the message; bound and call fields are on `record.fields`."""
    log = HandlerLogger(logging.getLogger("atlas.t"), {"service": "t", "tenant": "a"})
    with caplog.at_level(logging.INFO, logger="atlas.t"):
        log.info("invite expired", invite_id=7, name="reserved by LogRecord")
    [record] = caplog.records
    assert record.getMessage() == "invite expired invite_id=7 name=reserved by LogRecord"
    assert record.fields == {"service": "t", "tenant": "a", "invite_id": 7, "name": "reserved by LogRecord"}
    assert record.name == "atlas.t"


def test_log_level_is_case_insensitive_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """`LOG_LEVEL=debug` is DEBUG; an unknown level is a start-up error naming the variable."""
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert load_settings(ServiceSettings).log_level == "DEBUG"
    monkeypatch.setenv("LOG_LEVEL", "loud")
    with pytest.raises(ConfigurationError, match="LOG_LEVEL"):
        load_settings(ServiceSettings)
