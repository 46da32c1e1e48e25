"""The one place the runtime imports its HTTP client library.

httpx has had no release since 0.28; its maintained fork `httpx2` has the same API.
Every other module imports these names from here, so switching libraries is a
one-line change in this file.
"""

from __future__ import annotations

from httpx import (
    URL,
    AsyncBaseTransport,
    AsyncClient,
    AsyncHTTPTransport,
    ConnectError,
    ConnectTimeout,
    HTTPError,
    Limits,
    NetworkError,
    PoolTimeout,
    ReadError,
    RemoteProtocolError,
    Request,
    Response,
    Timeout,
    TimeoutException,
    TransportError,
    WriteError,
)

__all__ = [
    "URL",
    "AsyncBaseTransport",
    "AsyncClient",
    "AsyncHTTPTransport",
    "ConnectError",
    "ConnectTimeout",
    "HTTPError",
    "Limits",
    "NetworkError",
    "PoolTimeout",
    "ReadError",
    "RemoteProtocolError",
    "Request",
    "Response",
    "Timeout",
    "TimeoutException",
    "TransportError",
    "WriteError",
]
