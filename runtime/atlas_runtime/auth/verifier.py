"""Bearer-token verification for incoming requests.

A token is accepted only when: its header names RS256, ES256 or EdDSA; a configured
key of exactly that algorithm verifies its signature; it has `exp`, `iss` and `aud`;
`exp`/`nbf` hold within the leeway; `iss` equals the configured issuer and `aud`
contains the configured audience. Anything else is `Unauthorized` (401).

Verified tokens are remembered (bounded, never past their `exp`), so a client that
repeats its token does not pay for a signature check on every request. A remembered
token is honoured only while the key that verified it is still one of the key
source's keys: a key dropped from the JWKS stops every token it signed, seen or not.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

import jwt

from atlas_runtime.auth.keys import ALLOWED_ALGORITHMS, JwksKeys, KeySource, StaticKeys, VerificationKey
from atlas_runtime.auth.principal import Principal
from atlas_runtime.auth.settings import AuthSettings
from atlas_runtime.errors import ConfigurationError, Unauthorized

BEARER_CHALLENGE = 'Bearer realm="atlas"'
_CACHE_SIZE = 4096
_CACHE_SECONDS = 60.0


def invalid_token(detail: str) -> Unauthorized:
    """A 401 whose `WWW-Authenticate` says the token was rejected and why."""
    description = detail.replace('"', "'")
    challenge = f'{BEARER_CHALLENGE}, error="invalid_token", error_description="{description}"'
    return Unauthorized(detail, headers={"WWW-Authenticate": challenge})


def missing_token() -> Unauthorized:
    return Unauthorized(
        "this endpoint needs a bearer token in the Authorization header",
        headers={"WWW-Authenticate": BEARER_CHALLENGE},
    )


@dataclass(slots=True)
class _Remembered:
    principal: Principal
    key: VerificationKey
    expires: float
    not_before: float
    until: float


class TokenVerifier:
    """Verifies bearer tokens against a key source, issuer and audience."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 30.0,
        service_scope: str = "atlas:service",
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.service_scope = service_scope
        self._remembered: OrderedDict[bytes, _Remembered] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> TokenVerifier:
        """The verifier for `settings` (which must pass `check_ingress` with auth on)."""
        settings.check_ingress()
        if not settings.enabled or not settings.issuer or not settings.audience:
            raise ConfigurationError("a token verifier needs AUTH_MODE=on, AUTH_ISSUER and AUTH_AUDIENCE")
        keys: KeySource
        if settings.jwks_url:
            keys = JwksKeys(
                settings.jwks_url,
                cache_seconds=settings.jwks_cache_seconds,
                cooldown_seconds=settings.jwks_cooldown_seconds,
            )
        else:
            keys = StaticKeys.from_pem(settings.public_key or "")
        return cls(
            keys,
            issuer=settings.issuer,
            audience=settings.audience,
            leeway=settings.leeway,
            service_scope=settings.service_scope,
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token.

        Raises:
            Unauthorized: the token is malformed, unsigned, signed by an unknown key or
                with a refused algorithm, expired, not yet valid, or for another issuer
                or audience.
            BackendUnavailable: the JWKS endpoint cannot be reached and no keys are cached.
        """
        digest = hashlib.blake2b(token.encode(), digest_size=20).digest()
        remembered = self._recall(digest)
        if remembered is not None and await self._still_trusted(remembered.key):
            return remembered.principal
        claims, key = await self._decode(token)
        principal = Principal.from_claims(claims, service_scope=self.service_scope)
        self._remember(digest, principal, claims, key)
        return principal

    async def _still_trusted(self, key: VerificationKey) -> bool:
        """Whether `key` is still among the source's keys (a refreshed JWKS may have dropped it)."""
        return key in await self.keys.candidates(key.kid, key.algorithm)

    async def _decode(self, token: str) -> tuple[dict[str, object], VerificationKey]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise invalid_token(f"the token is malformed: {error}") from None
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise invalid_token(f"tokens signed with {algorithm!r} are not accepted")
        kid = header.get("kid")
        candidates = await self.keys.candidates(kid if isinstance(kid, str) else None, str(algorithm))
        if not candidates:
            raise invalid_token("no known key verifies this token")
        last_error: jwt.InvalidTokenError | None = None
        for candidate in candidates:
            try:
                claims = jwt.decode(
                    token,
                    candidate.key,
                    algorithms=[candidate.algorithm],
                    audience=self.audience,
                    issuer=self.issuer,
                    leeway=self.leeway,
                    options={"require": ["exp", "iss", "aud"]},
                )
                return claims, candidate
            except jwt.InvalidSignatureError as error:
                last_error = error  # try the next key with the same algorithm
            except jwt.InvalidTokenError as error:
                raise invalid_token(f"the token is not valid: {error}") from None
        raise invalid_token(f"the token is not valid: {last_error}")

    def _recall(self, digest: bytes) -> _Remembered | None:
        entry = self._remembered.get(digest)
        if entry is None:
            return None
        now = time.time()
        if now > entry.until or now > entry.expires + self.leeway or now < entry.not_before - self.leeway:
            del self._remembered[digest]
            return None
        self._remembered.move_to_end(digest)
        return entry

    def _remember(
        self, digest: bytes, principal: Principal, claims: dict[str, object], key: VerificationKey
    ) -> None:
        expires = claims.get("exp")
        not_before = claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            return
        until = time.time() + _CACHE_SECONDS
        self._remembered[digest] = _Remembered(principal, key, float(expires), float(not_before), until)
        if len(self._remembered) > _CACHE_SIZE:
            self._remembered.popitem(last=False)

    async def aclose(self) -> None:
        await self.keys.aclose()
