"""Test helpers: key pairs that sign tokens and publish themselves as JWKs.

keys = KeyPair.generate("ES256", kid="k1")
token = keys.sign(token_claims(issuer="https://id", audience="atlas", tenant_id=tid))
settings = AuthSettings(public_key=keys.public_pem, issuer="https://id", audience="atlas")
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

Algorithm = Literal["RS256", "ES256", "EdDSA"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_JWK_ENCODERS: dict[str, Any] = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}


@dataclass(frozen=True)
class KeyPair:
    """A signing key pair for one algorithm."""

    algorithm: Algorithm
    private_key: PrivateKey
    kid: str | None = None

    @classmethod
    def generate(cls, algorithm: Algorithm = "RS256", *, kid: str | None = None) -> KeyPair:
        private_key: PrivateKey
        if algorithm == "RS256":
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif algorithm == "ES256":
            private_key = ec.generate_private_key(ec.SECP256R1())
        else:
            private_key = ed25519.Ed25519PrivateKey.generate()
        return cls(algorithm, private_key, kid)

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def jwk(self) -> dict[str, Any]:
        """The public key as a JWK (with `kid`, `alg` and `use`)."""
        public = self.private_key.public_key()
        jwk: dict[str, Any] = json.loads(_JWK_ENCODERS[self.algorithm].to_jwk(public))
        jwk.update({"alg": self.algorithm, "use": "sig"})
        if self.kid:
            jwk["kid"] = self.kid
        return jwk

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        """A token with `claims`, signed by this key (its `kid` in the header)."""
        merged = {"kid": self.kid} if self.kid else {}
        merged.update(headers or {})
        return jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=merged or None)


def jwks(*pairs: KeyPair) -> dict[str, Any]:
    """A JWKS document publishing the public keys of `pairs`."""
    return {"keys": [pair.jwk() for pair in pairs]}


def token_claims(
    *,
    issuer: str,
    audience: str | list[str],
    tenant_id: str | uuid.UUID | None = None,
    scopes: str | None = None,
    subject: str = "user-1",
    lifetime: float = 300.0,
    not_before: float | None = None,
) -> dict[str, Any]:
    """Standard claims for a token that is valid now for `lifetime` seconds."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "exp": now + int(lifetime),
    }
    if not_before is not None:
        claims["nbf"] = int(not_before)
    if tenant_id is not None:
        claims["tenant_id"] = str(tenant_id)
    if scopes is not None:
        claims["scope"] = scopes
    return claims
