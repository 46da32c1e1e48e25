"""Trace-context parsing, request ids, log records and the public surface of the packages."""

from __future__ import annotations

import importlib
import logging

import pytest

from atlas_runtime.rest.tracing import (
    RequestContextLogFilter,
    accept_request_id,
    continue_trace,
    parse_traceparent,
    request_scope,
    start_trace,
)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
        "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
    ],
)
def test_invalid_traceparents_are_rejected(value: str | None) -> None:
    """Malformed, all-zero and forbidden-version traceparents are not accepted as parents."""
    assert parse_traceparent(value) is None


def test_future_versions_may_carry_more_fields() -> None:
    """A traceparent of a later version is read by its first four fields."""
    parent = parse_traceparent("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00-more", "a=1")
    assert parent is not None
    assert (parent.trace_id, parent.span_id, parent.flags, parent.tracestate) == (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "00",
        "a=1",
    )


def test_child_spans_keep_the_trace_and_record_the_parent() -> None:
    """A continued trace keeps the trace id, gets a new span id and names its parent."""
    span = continue_trace("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    child = span.child()
    assert child.trace_id == span.trace_id and child.parent_id == span.span_id
    headers = span.outbound_headers()
    assert headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")
    assert headers["traceparent"] != span.traceparent


def test_request_ids_are_accepted_only_when_sane() -> None:
    """Printable ids of up to 128 characters are kept; others are replaced by a new id."""
    assert accept_request_id("abc-123") == "abc-123"
    for bad in ("", "x" * 129, "has space", "new\nline"):
        replaced = accept_request_id(bad)
        assert replaced != bad and len(replaced) == 32


def test_log_filter_adds_request_and_trace_ids() -> None:
    """Log records made inside a request carry its request id and trace ids; outside, None."""
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    log_filter = RequestContextLogFilter()
    trace = start_trace()
    with request_scope("req-1", trace):
        assert log_filter.filter(record)
        fields = vars(record)
        assert (fields["request_id"], fields["trace_id"], fields["span_id"]) == (
            "req-1",
            trace.trace_id,
            trace.span_id,
        )
    log_filter.filter(record)
    assert vars(record)["request_id"] is None and vars(record)["trace_id"] is None


@pytest.mark.parametrize("package", ["atlas_runtime.rest", "atlas_runtime.auth", "atlas_runtime.http"])
def test_public_names_resolve(package: str) -> None:
    """Every name in a package's `__all__` exists, once, and no private name is exported."""
    module = importlib.import_module(package)
    assert [name for name in module.__all__ if not hasattr(module, name)] == []
    assert len(set(module.__all__)) == len(module.__all__)
    assert not [name for name in module.__all__ if name.startswith("_")]
