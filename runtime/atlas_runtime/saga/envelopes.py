"""Reading incoming envelopes: the transaction id, the fields, the tenant and headers.

Events and triggers arrive as the JSON envelope `{"type", "body", <envelope fields>}`
with Kafka headers; these helpers pull out what the orchestrator needs, whatever the
saga type's `transaction_field` and `wire_case`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from atlas_runtime.saga.definition import from_camel
from atlas_runtime.tenant import HEADER_NAMES, Tenant, current_tenant_or_none


def transaction_id(envelope: Mapping[str, Any], fields: Sequence[str]) -> uuid.UUID | None:
    """The saga id named by the first of `fields` found in the envelope (then its body), or None."""
    body = envelope.get("body")
    for name in fields:
        raw = envelope.get(name)
        if raw is None and isinstance(body, Mapping):
            raw = body.get(name)
        if raw is not None:
            try:
                return uuid.UUID(str(raw))
            except ValueError:
                return None
    return None


def message_tenant(headers: Sequence[tuple[str, bytes]]) -> Tenant | None:
    """The tenant in context (bound by the consumer), else the one in the message headers."""
    tenant = current_tenant_or_none()
    if tenant is None and any(name in HEADER_NAMES for name, _ in headers):
        tenant = Tenant.from_kafka_headers(headers)
    return tenant


def header(headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    """The last value of header `name`, decoded, or None."""
    found = None
    for key, value in headers:
        if key == name:
            found = value.decode("utf-8", errors="replace")
    return found


def event_fields(envelope: Mapping[str, Any], *, camel: bool) -> dict[str, Any]:
    """Envelope and body fields of an event, by declared (snake_case) name."""
    fields = {k: v for k, v in envelope.items() if k not in ("type", "body")}
    body = envelope.get("body")
    if isinstance(body, Mapping):
        fields.update(body)
    return {from_camel(k): v for k, v in fields.items()} if camel else fields
