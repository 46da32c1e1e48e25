"""The verified caller of a request, and the checks made against it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from atlas_runtime.errors import Forbidden
from atlas_runtime.tenant import Tenant


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token says the caller is.

    Attributes:
        subject: the `sub` claim.
        tenant_id: the `tenant_id` claim, or None when the token has none.
        scopes: from `scope` (space-separated) or `scp` (a list).
        claims: every claim of the token.
        is_service: the token carries the service scope: a trusted service acting
            for whichever tenant its request names.
    """

    subject: str | None
    tenant_id: str | None
    scopes: frozenset[str]
    claims: Mapping[str, Any] = field(default_factory=dict)
    is_service: bool = False

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, service_scope: str) -> Principal:
        scopes = scopes_of(claims)
        tenant = claims.get("tenant_id")
        return cls(
            subject=str(claims["sub"]) if "sub" in claims else None,
            tenant_id=str(tenant) if tenant is not None else None,
            scopes=scopes,
            claims=dict(claims),
            is_service=bool(service_scope) and service_scope in scopes,
        )


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """The scopes of a token: `scope` (space-separated string) and `scp` (list or string)."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(str(item) for item in value)
    return frozenset(found)


def authorize_tenant(principal: Principal, tenant: Tenant) -> None:
    """The token must be bound to the request's tenant (a service token may act for any).

    Raises:
        Forbidden: the `tenant_id` claim differs from the `TENANT_ID` header, or a
            non-service token has no `tenant_id` claim.
    """
    if principal.tenant_id is None:
        if principal.is_service:
            return
        raise Forbidden("the token has no tenant_id claim, so it may not act for any tenant")
    if principal.tenant_id.lower() != str(tenant.id):
        raise Forbidden("the token's tenant_id claim does not match the TENANT_ID header")


def require_scopes(principal: Principal | None, required: Iterable[str]) -> None:
    """Every required scope must be granted (nothing is checked when auth is off).

    Raises:
        Forbidden: naming the missing scopes.
    """
    if principal is None:
        return
    missing = sorted(set(required) - principal.scopes)
    if missing:
        raise Forbidden(f"the token lacks the scope(s) this endpoint needs: {' '.join(missing)}")


_principal: ContextVar[Principal | None] = ContextVar("atlas_principal", default=None)


def current_principal() -> Principal | None:
    """The verified caller of the running request; None when auth is off or outside a request."""
    return _principal.get()


@contextmanager
def as_principal(principal: Principal | None) -> Iterator[None]:
    """Run the enclosed block with `principal` as the current caller."""
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)
