"""The runtime side of a generated service: its description, settings, handler context and lifecycle.

A generated package declares a `ServiceDescription`; `Service` assembles it (state,
REST routes, tasks, messaging) and `serve` runs it under uvicorn. The assembly (FastAPI,
Redis, Kafka clients) loads on first use, so generated modules and the generator import
the declarative parts cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from atlas_runtime.service.description import (
    CallDecl,
    ConsumeDecl,
    ConsumeLockDecl,
    DatabaseDecl,
    EndpointDecl,
    IndexDecl,
    LockDecl,
    ProduceDecl,
    RegistryDecl,
    RetryDecl,
    ServiceDescription,
    TaskDecl,
)
from atlas_runtime.service.settings import ServiceSettings, load_settings

if TYPE_CHECKING:
    from atlas_runtime.service.assembly import MessagingPort, Service
    from atlas_runtime.service.context import Context, Emitter, Namespace
    from atlas_runtime.service.launcher import serve, serve_many

_LAZY = {
    "MessagingPort": "assembly",
    "Service": "assembly",
    "Context": "context",
    "Emitter": "context",
    "Namespace": "context",
    "serve": "launcher",
    "serve_many": "launcher",
}

__all__ = [
    "CallDecl",
    "ConsumeDecl",
    "ConsumeLockDecl",
    "Context",
    "DatabaseDecl",
    "Emitter",
    "EndpointDecl",
    "IndexDecl",
    "LockDecl",
    "MessagingPort",
    "Namespace",
    "ProduceDecl",
    "RegistryDecl",
    "RetryDecl",
    "Service",
    "ServiceDescription",
    "ServiceSettings",
    "TaskDecl",
    "load_settings",
    "serve",
    "serve_many",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
