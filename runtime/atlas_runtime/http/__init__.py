"""Outbound REST: one client per called service, with deadlines, retries, and context propagation."""

from __future__ import annotations

from atlas_runtime.http.client import IDEMPOTENCY_KEY, IDEMPOTENT_METHODS, RETRY_STATUSES, ServiceClient
from atlas_runtime.http.clients import ServiceClients
from atlas_runtime.http.errors import (
    ResponseDecodeError,
    ServiceBadRequest,
    ServiceCallError,
    ServiceConflict,
    ServiceForbidden,
    ServiceNotFound,
    ServiceResponseError,
    ServiceServerError,
    ServiceTimeout,
    ServiceUnauthorized,
    ServiceUnavailable,
    ServiceUnprocessable,
    ServiceUnreachable,
    error_class_for,
)
from atlas_runtime.http.settings import ClientSettings, env_name, service_base_url

__all__ = [
    "IDEMPOTENCY_KEY",
    "IDEMPOTENT_METHODS",
    "RETRY_STATUSES",
    "ClientSettings",
    "ResponseDecodeError",
    "ServiceBadRequest",
    "ServiceCallError",
    "ServiceClient",
    "ServiceClients",
    "ServiceConflict",
    "ServiceForbidden",
    "ServiceNotFound",
    "ServiceResponseError",
    "ServiceServerError",
    "ServiceTimeout",
    "ServiceUnauthorized",
    "ServiceUnavailable",
    "ServiceUnprocessable",
    "ServiceUnreachable",
    "env_name",
    "error_class_for",
    "service_base_url",
]
