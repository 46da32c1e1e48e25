"""Authentication: bearer-token verification at ingress, tenant binding, scopes, service tokens."""

from __future__ import annotations

from atlas_runtime.auth.keys import (
    ALLOWED_ALGORITHMS,
    JwksKeys,
    KeySource,
    StaticKeys,
    VerificationKey,
    algorithm_of,
    parse_jwks,
)
from atlas_runtime.auth.principal import (
    Principal,
    as_principal,
    authorize_tenant,
    current_principal,
    require_scopes,
    scopes_of,
)
from atlas_runtime.auth.service_tokens import (
    ClientCredentialsTokenSource,
    SignedTokenSource,
    StaticTokenSource,
    TokenSource,
    token_source_from_settings,
)
from atlas_runtime.auth.settings import AuthSettings
from atlas_runtime.auth.verifier import BEARER_CHALLENGE, TokenVerifier, invalid_token, missing_token

__all__ = [
    "ALLOWED_ALGORITHMS",
    "BEARER_CHALLENGE",
    "AuthSettings",
    "ClientCredentialsTokenSource",
    "JwksKeys",
    "KeySource",
    "Principal",
    "SignedTokenSource",
    "StaticKeys",
    "StaticTokenSource",
    "TokenSource",
    "TokenVerifier",
    "VerificationKey",
    "algorithm_of",
    "as_principal",
    "authorize_tenant",
    "current_principal",
    "invalid_token",
    "missing_token",
    "parse_jwks",
    "require_scopes",
    "scopes_of",
    "token_source_from_settings",
]
