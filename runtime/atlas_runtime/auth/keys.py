"""Verification keys: from PEM (`AUTH_PUBLIC_KEY`) or from a JWKS endpoint (`AUTH_JWKS_URL`).

Each key carries the one algorithm it may verify, decided by the key itself (RSA:
RS256, EC P-256: ES256, Ed25519: EdDSA), never by the token. That is what defeats
algorithm confusion: a token whose header names another algorithm finds no key.

The JWKS is fetched with the async HTTP client, cached for `cache_seconds`, and
fetched again when a token names an unknown `kid` (at most once per `cooldown_seconds`),
so a rotated key is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from atlas_runtime.errors import BackendUnavailable, ConfigurationError

if TYPE_CHECKING:
    from atlas_runtime.http import _httpx

log = logging.getLogger("atlas_runtime.auth")

ALLOWED_ALGORITHMS = frozenset({"RS256", "ES256", "EdDSA"})
_PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A public key, the algorithm it verifies, and its key id (if any)."""

    key: Any
    algorithm: str
    kid: str | None = None


class KeySource(Protocol):
    """Where verification keys come from."""

    async def candidates(self, kid: str | None, algorithm: str) -> Sequence[VerificationKey]:
        """Keys that may have signed a token with this `kid` and `algorithm`."""
        ...

    async def aclose(self) -> None: ...


def algorithm_of(key: object) -> str:
    """The one algorithm a public key verifies.

    Raises:
        ConfigurationError: an unsupported key type or curve.
    """
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ConfigurationError(
        f"unsupported public key type {type(key).__name__}; "
        "use RSA (RS256), EC P-256 (ES256) or Ed25519 (EdDSA)"
    )


def _matching(keys: Sequence[VerificationKey], kid: str | None, algorithm: str) -> list[VerificationKey]:
    return [k for k in keys if k.algorithm == algorithm and (kid is None or k.kid is None or k.kid == kid)]


class StaticKeys:
    """Keys given as PEM text (one or several `PUBLIC KEY` blocks)."""

    def __init__(self, keys: Sequence[VerificationKey]) -> None:
        if not keys:
            raise ConfigurationError("AUTH_PUBLIC_KEY holds no PEM public key")
        self._keys = list(keys)

    @classmethod
    def from_pem(cls, pem: str) -> StaticKeys:
        """Parse every `-----BEGIN PUBLIC KEY-----` block of `pem`.

        Raises:
            ConfigurationError: no block, or a block that is not a supported public key.
        """
        keys: list[VerificationKey] = []
        for block in _PEM_BLOCK.findall(pem.replace("\\n", "\n")):
            try:
                key = load_pem_public_key(block.encode())
            except ValueError as error:
                raise ConfigurationError(f"AUTH_PUBLIC_KEY holds an unreadable PEM key: {error}") from None
            keys.append(VerificationKey(key, algorithm_of(key)))
        return cls(keys)

    async def candidates(self, kid: str | None, algorithm: str) -> Sequence[VerificationKey]:
        return [k for k in self._keys if k.algorithm == algorithm]

    async def aclose(self) -> None:
        return None


def parse_jwks(document: Mapping[str, Any]) -> list[VerificationKey]:
    """The usable signing keys of a JWKS document; other keys (HMAC, encryption) are skipped."""
    keys: list[VerificationKey] = []
    for entry in document.get("keys") or []:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            jwk = PyJWK(entry)
        except (PyJWTError, ValueError) as error:
            log.warning("skipping JWKS key %r: %s", entry.get("kid"), error)
            continue
        if jwk.algorithm_name not in ALLOWED_ALGORITHMS:
            continue
        # The key type must agree with its declared algorithm (an RSA key labelled ES256 is refused).
        try:
            if algorithm_of(jwk.key) != jwk.algorithm_name:
                continue
        except ConfigurationError:
            continue  # a key type or curve none of the allowed algorithms uses
        keys.append(VerificationKey(jwk.key, jwk.algorithm_name, entry.get("kid")))
    return keys


class JwksKeys:
    """Keys fetched from a JWKS URL, cached, refetched on an unknown `kid` with a cooldown."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300.0,
        cooldown_seconds: float = 30.0,
        timeout: float = 5.0,
        client: _httpx.AsyncClient | None = None,
    ) -> None:
        self.url = url
        self._cache_seconds = cache_seconds
        self._cooldown = cooldown_seconds
        # Imported here: the http package imports rest, which imports auth.
        from atlas_runtime.http import _httpx

        self._client = client or _httpx.AsyncClient(timeout=_httpx.Timeout(timeout))
        self._owns_client = client is None
        self._keys: list[VerificationKey] | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def candidates(self, kid: str | None, algorithm: str) -> Sequence[VerificationKey]:
        if self._keys is None or time.monotonic() - self._fetched_at > self._cache_seconds:
            await self._refresh(stale_ok=True)
        if self._keys is None:
            raise BackendUnavailable("JWKS endpoint", self.url)
        found = _matching(self._keys, kid, algorithm)
        if not found and kid is not None and time.monotonic() - self._fetched_at >= self._cooldown:
            await self._refresh(stale_ok=True)
            found = _matching(self._keys or [], kid, algorithm)
        return found

    async def _refresh(self, *, stale_ok: bool) -> None:
        fetched_before = self._fetched_at
        async with self._lock:
            if self._fetched_at != fetched_before:
                return  # another request refreshed while this one waited: single flight
            try:
                response = await self._client.get(self.url)
                response.raise_for_status()
                keys = parse_jwks(response.json())
            except (_http_error(), ValueError) as error:
                self._fetched_at = time.monotonic()  # the cooldown also spaces out failing fetches
                if self._keys is not None and stale_ok:
                    log.warning("JWKS refresh from %s failed, keeping the cached keys: %s", self.url, error)
                    return
                raise BackendUnavailable("JWKS endpoint", self.url, error) from error
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _http_error() -> type[Exception]:
    from atlas_runtime.http import _httpx

    return _httpx.HTTPError
