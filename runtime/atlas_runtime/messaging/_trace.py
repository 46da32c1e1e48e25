"""W3C trace context carried through messages: `traceparent` and `tracestate` headers.

The consumer binds the incoming message's headers for the duration of a handler; the
producer copies the bound trace context into outgoing headers, starting a new trace (a
fresh trace id and span id) when none is bound, so every message carries one. It also
echoes `SAGA_STEP`: a participant's answer then names the saga step it answers, which
the orchestrator matches on (a generated handler never has to copy it by hand).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

from atlas_runtime.messaging._records import Headers

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
SAGA_STEP = "SAGA_STEP"
ECHOED = frozenset({SAGA_STEP})  # copied as they are from a handled message onto what it emits
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A parsed `traceparent` (and optional `tracestate`)."""

    trace_id: str
    parent_id: str
    flags: str = "01"
    state: str | None = None

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags}"

    @classmethod
    def new(cls) -> TraceContext:
        """A new root trace with random ids, sampled."""
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    def child(self) -> TraceContext:
        """The same trace with a new span id, as the parent of an outgoing message."""
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags, self.state)

    @classmethod
    def from_headers(cls, headers: Headers) -> TraceContext | None:
        """The trace context in `headers`, or None when absent or malformed."""
        parent = state = None
        for name, value in headers:
            if name == TRACEPARENT:
                parent = value.decode("ascii", errors="replace").strip().lower()
            elif name == TRACESTATE:
                state = value.decode("ascii", errors="replace")
        match = _TRACEPARENT_RE.match(parent or "")
        if match is None:
            return None
        return cls(match[1], match[2], match[3], state or None)

    def headers(self) -> Headers:
        out: Headers = [(TRACEPARENT, self.traceparent.encode())]
        if self.state:
            out.append((TRACESTATE, self.state.encode()))
        return out


class _MessageHeaders:
    """The headers of the message being handled; its trace context is parsed on first use
    (most handlers never emit)."""

    __slots__ = ("_parsed", "_trace", "headers")

    def __init__(self, headers: Headers) -> None:
        self.headers = headers
        self._trace: TraceContext | None = None
        self._parsed = False

    def trace(self) -> TraceContext | None:
        if not self._parsed:
            self._trace, self._parsed = TraceContext.from_headers(self.headers), True
        return self._trace


_current: ContextVar[TraceContext | _MessageHeaders | None] = ContextVar("atlas_trace", default=None)


def current_trace() -> TraceContext | None:
    """The trace context bound to the running handler, if any."""
    value = _current.get()
    if value is None or isinstance(value, TraceContext):
        return value
    return value.trace()


def bind_message_headers(headers: Headers) -> Token[TraceContext | _MessageHeaders | None]:
    """Bind the headers of the message being handled; undo with `unbind_trace`."""
    return _current.set(_MessageHeaders(headers))


def unbind_trace(token: Token[TraceContext | _MessageHeaders | None]) -> None:
    _current.reset(token)


@contextmanager
def bind_trace(trace: TraceContext | None) -> Iterator[TraceContext | None]:
    """Bind `trace` for the enclosed block."""
    token = _current.set(trace)
    try:
        yield trace
    finally:
        _current.reset(token)


def outgoing_trace_headers() -> Headers:
    """Headers continuing the bound trace (or starting a new one), and the echoed ones."""
    value = _current.get()
    trace = value.trace() if isinstance(value, _MessageHeaders) else value
    out = (trace.child() if trace else TraceContext.new()).headers()
    if isinstance(value, _MessageHeaders):
        out.extend((name, raw) for name, raw in value.headers if name in ECHOED)
    return out
