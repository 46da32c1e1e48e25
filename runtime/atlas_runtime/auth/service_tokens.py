"""Service-to-service tokens: what an outbound call puts in its `Authorization` header.

Two sources, chosen by settings:

- `ClientCredentialsTokenSource`: OAuth 2 client credentials against `AUTH_TOKEN_URL`,
  cached until shortly before it expires.
- `SignedTokenSource`: a JWT signed here with `AUTH_SERVICE_KEY`; it carries the
  current tenant's `tenant_id` (so the callee's tenant binding holds), the service
  scope and any configured scopes. Cached per tenant until shortly before expiry.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from atlas_runtime.auth.settings import AuthSettings
from atlas_runtime.errors import BackendUnavailable, ConfigurationError
from atlas_runtime.tenant import current_tenant_or_none

if TYPE_CHECKING:
    from atlas_runtime.http import _httpx

_REFRESH_MARGIN = 30.0


class TokenSource(Protocol):
    """Supplies bearer tokens for outbound calls."""

    async def token(self) -> str:
        """A token valid for at least a little while longer."""
        ...

    def invalidate(self) -> None:
        """Forget cached tokens (the callee rejected one)."""
        ...


class StaticTokenSource:
    """Always the same token (tests, or a token injected by the platform)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        return None


def _refresh_at(issued: float, lifetime: float) -> float:
    """When to fetch a new token: 30 s (or a tenth of the lifetime, if shorter) before expiry."""
    return issued + lifetime - min(_REFRESH_MARGIN, lifetime / 10)


class ClientCredentialsTokenSource:
    """Tokens from an OAuth 2 token endpoint (`grant_type=client_credentials`)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        audience: str | None = None,
        client: _httpx.AsyncClient | None = None,
    ) -> None:
        self.token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        if scope:
            self._form["scope"] = scope
        if audience:
            self._form["audience"] = audience
        # Imported here: the http package imports rest, which imports auth.
        from atlas_runtime.http import _httpx

        self._client = client or _httpx.AsyncClient(timeout=_httpx.Timeout(10.0))
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token is not None and time.monotonic() < self._refresh_at:
            return self._token
        async with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        issued = time.monotonic()
        try:
            response = await self._client.post(self.token_url, data=self._form)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            token = str(body["access_token"])
        except (_http_error(), ValueError, KeyError) as error:
            raise BackendUnavailable("token endpoint", self.token_url, error) from error
        self._token = token
        self._refresh_at = _refresh_at(issued, float(body.get("expires_in", 300)))

    def invalidate(self) -> None:
        self._token = None

    async def aclose(self) -> None:
        await self._client.aclose()


_SIGNING = (
    (rsa.RSAPrivateKey, "RS256"),
    (ec.EllipticCurvePrivateKey, "ES256"),
    (ed25519.Ed25519PrivateKey, "EdDSA"),
)


class SignedTokenSource:
    """Tokens signed with this service's private key, one per tenant."""

    def __init__(
        self,
        private_key_pem: str,
        *,
        issuer: str,
        audience: str,
        key_id: str | None = None,
        scopes: tuple[str, ...] = (),
        service_scope: str = "atlas:service",
        lifetime: float = 300.0,
    ) -> None:
        try:
            self._key = load_pem_private_key(private_key_pem.replace("\\n", "\n").encode(), password=None)
        except ValueError as error:
            raise ConfigurationError(f"AUTH_SERVICE_KEY is not a readable PEM private key: {error}") from None
        self.algorithm = next((alg for kind, alg in _SIGNING if isinstance(self._key, kind)), None)
        if self.algorithm is None:
            raise ConfigurationError("AUTH_SERVICE_KEY must be an RSA, EC P-256 or Ed25519 private key")
        self.issuer = issuer
        self.audience = audience
        self.key_id = key_id
        self.scope = " ".join(dict.fromkeys((service_scope, *scopes)))
        self.lifetime = lifetime
        self._cache: dict[str | None, tuple[str, float]] = {}

    async def token(self) -> str:
        tenant = current_tenant_or_none()
        tenant_id = str(tenant.id) if tenant else None
        cached = self._cache.get(tenant_id)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        token = self._sign(tenant_id)
        self._cache[tenant_id] = (token, _refresh_at(time.monotonic(), self.lifetime))
        return token

    def _sign(self, tenant_id: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.issuer,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + int(self.lifetime),
            "jti": uuid.uuid4().hex,
            "scope": self.scope,
        }
        if tenant_id is not None:
            claims["tenant_id"] = tenant_id
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=headers)  # type: ignore[arg-type]

    def invalidate(self) -> None:
        self._cache.clear()


def token_source_from_settings(settings: AuthSettings, *, service: str) -> TokenSource | None:
    """The token source the settings describe, or None when neither kind is configured.

    Raises:
        ConfigurationError: client credentials are half configured.
    """
    if settings.token_url or settings.client_id or settings.client_secret:
        if not (settings.token_url and settings.client_id and settings.client_secret):
            raise ConfigurationError(
                "client credentials need all of AUTH_TOKEN_URL, AUTH_CLIENT_ID and AUTH_CLIENT_SECRET"
            )
        return ClientCredentialsTokenSource(
            settings.token_url,
            settings.client_id,
            settings.client_secret,
            scope=settings.token_scope,
            audience=settings.audience,
        )
    if settings.service_key:
        return SignedTokenSource(
            settings.service_key,
            issuer=settings.issuer or f"atlas-{service}",
            audience=settings.audience or "atlas",
            key_id=settings.service_key_id,
            scopes=tuple(settings.service_scopes.split()),
            service_scope=settings.service_scope,
            lifetime=settings.service_token_ttl,
        )
    return None


def _http_error() -> type[Exception]:
    from atlas_runtime.http import _httpx

    return _httpx.HTTPError
