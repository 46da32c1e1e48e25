"""Request id and W3C trace context of the running request, carried in context variables.

The server sets both for every request (`X-Request-ID` taken from the request or
generated; `traceparent` parsed, or a new trace started when it is absent or
malformed). Handlers, loggers and the outbound client read them from here, so a
call made while serving a request continues the same trace.
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span of a W3C trace: the trace id, this span's id, its parent and the flags."""

    trace_id: str
    span_id: str
    parent_id: str | None = None
    flags: str = "01"
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        """The `traceparent` value naming this span."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """A new span of the same trace whose parent is this span."""
        return TraceContext(self.trace_id, new_span_id(), self.span_id, self.flags, self.tracestate)

    def outbound_headers(self) -> dict[str, str]:
        """Headers that continue this trace in a call made from this span."""
        headers = {TRACEPARENT_HEADER: self.child().traceparent}
        if self.tracestate:
            headers[TRACESTATE_HEADER] = self.tracestate
        return headers


# Trace and request ids need to be unique, not secret: W3C trace context asks for random ids, and
# `random` is several times cheaper than `secrets` (which reads the OS entropy pool on every call).
_random = random.Random()


def new_span_id() -> str:
    return f"{_random.getrandbits(64) or 1:016x}"


def new_trace_id() -> str:
    return f"{_random.getrandbits(128) or 1:032x}"


def start_trace() -> TraceContext:
    """A new root span."""
    return TraceContext(new_trace_id(), new_span_id())


def parse_traceparent(value: str | None, tracestate: str | None = None) -> TraceContext | None:
    """The remote parent named by a `traceparent` header, or None when absent or malformed."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    # Version ff is forbidden; version 00 allows nothing after the flags.
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, parent_id, None, flags, tracestate or None)


def continue_trace(traceparent: str | None, tracestate: str | None = None) -> TraceContext:
    """The span serving a request: a child of the caller's span, or a new root."""
    parent = parse_traceparent(traceparent, tracestate)
    return parent.child() if parent is not None else start_trace()


def accept_request_id(value: str | None) -> str:
    """The caller's request id when it is sane (printable, at most 128 chars), else a new one."""
    if value and _REQUEST_ID.match(value):
        return value
    return new_trace_id()


_trace: ContextVar[TraceContext | None] = ContextVar("atlas_trace", default=None)
_request_id: ContextVar[str | None] = ContextVar("atlas_request_id", default=None)


def current_trace() -> TraceContext | None:
    """The span of the running request, if any."""
    return _trace.get()


def current_request_id() -> str | None:
    """The id of the running request, if any."""
    return _request_id.get()


@contextmanager
def request_scope(request_id: str, trace: TraceContext) -> Iterator[None]:
    """Run the enclosed block with `request_id` and `trace` as the current ones."""
    id_token = _request_id.set(request_id)
    trace_token = _trace.set(trace)
    try:
        yield
    finally:
        _trace.reset(trace_token)
        _request_id.reset(id_token)


class RequestContextLogFilter(logging.Filter):
    """Adds `request_id`, `trace_id` and `span_id` to every record (None outside a request).

    Attach it to a handler: `handler.addFilter(RequestContextLogFilter())`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        trace = _trace.get()
        record.request_id = _request_id.get()
        record.trace_id = trace.trace_id if trace else None
        record.span_id = trace.span_id if trace else None
        return True
