"""Keys from a JWKS endpoint served on loopback, including key rotation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas_runtime.auth import AuthSettings, JwksKeys, parse_jwks
from atlas_runtime.auth.testing import KeyPair, jwks, token_claims
from atlas_runtime.errors import BackendUnavailable
from atlas_runtime.rest import create_app
from atlas_runtime.rest.testing import running_server

from .conftest import AUDIENCE, ENDPOINTS, ISSUER, TENANT_ID, bearer


@dataclass
class JwksServer:
    """A JWKS endpoint whose published keys the test can change."""

    keys: list[KeyPair]
    fetches: int = 0
    failing: bool = False
    url: str = ""
    extra: list[dict[str, Any]] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        self.fetches += 1
        if self.failing:
            return JSONResponse({"error": "down"}, status_code=500)
        document = jwks(*self.keys)
        document["keys"].extend(self.extra)
        return JSONResponse(document)


@asynccontextmanager
async def jwks_server(*keys: KeyPair) -> AsyncIterator[JwksServer]:
    state = JwksServer(list(keys))
    app = Starlette(routes=[Route("/.well-known/jwks.json", state.endpoint)])
    async with running_server(app) as server:
        state.url = f"{server.url}/.well-known/jwks.json"
        yield state


def token(keys: KeyPair, subject: str = "user-1") -> str:
    return keys.sign(token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=TENANT_ID, subject=subject))


@asynccontextmanager
async def service_client(auth: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a running service app that verifies tokens with `auth`."""
    app = create_app("jwks", endpoints=ENDPOINTS, auth=auth)
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        yield client


async def status_of(client: httpx.AsyncClient, token: str) -> int:
    return (await client.get("/api/whoami", headers=bearer(token))).status_code


async def test_rotated_key_is_picked_up_without_restart() -> None:
    """After the JWKS starts publishing a new key, tokens signed by it are accepted."""
    first, second = KeyPair.generate("ES256", kid="k1"), KeyPair.generate("RS256", kid="k2")
    async with jwks_server(first) as idp:
        auth = AuthSettings(jwks_url=idp.url, issuer=ISSUER, audience=AUDIENCE, jwks_cooldown_seconds=0)
        app = create_app("rotation", endpoints=ENDPOINTS, auth=auth)
        async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/api/whoami", headers=bearer(token(first)))).status_code == 200
            assert (await client.get("/api/whoami", headers=bearer(token(second)))).status_code == 401
            idp.keys = [second]
            assert (await client.get("/api/whoami", headers=bearer(token(second)))).status_code == 200


async def test_default_cooldown_holds_back_a_key_published_just_after_a_fetch() -> None:
    """With the default settings (30 s cooldown, 300 s cache) an unknown `kid` seen within 30 s of the
    last fetch is refused (401) without fetching again: the documented throttle on refetches."""
    first, second = KeyPair.generate("ES256", kid="k1"), KeyPair.generate("ES256", kid="k2")
    async with jwks_server(first) as idp:
        auth = AuthSettings(jwks_url=idp.url, issuer=ISSUER, audience=AUDIENCE)
        assert (auth.jwks_cooldown_seconds, auth.jwks_cache_seconds) == (30.0, 300.0)
        async with service_client(auth) as client:
            assert await status_of(client, token(first)) == 200
            idp.keys = [first, second]
            assert await status_of(client, token(second)) == 401
            assert await status_of(client, token(second, "user-2")) == 401
            assert await status_of(client, token(first, "user-3")) == 200
    assert idp.fetches == 1


async def test_unknown_kid_fetches_the_rotated_key_once_the_cooldown_has_passed() -> None:
    """Once the cooldown has passed since the last fetch, the first token naming an unknown `kid`
    fetches the JWKS once and is accepted with the newly published key."""
    first, second = KeyPair.generate("ES256", kid="k1"), KeyPair.generate("RS256", kid="k2")
    async with jwks_server(first) as idp:
        auth = AuthSettings(jwks_url=idp.url, issuer=ISSUER, audience=AUDIENCE, jwks_cooldown_seconds=0.3)
        async with service_client(auth) as client:
            assert await status_of(client, token(first)) == 200
            idp.keys = [first, second]
            await asyncio.sleep(0.4)  # past the cooldown; the 300 s cache is still fresh
            assert await status_of(client, token(second)) == 200
            assert await status_of(client, token(first, "user-2")) == 200
    assert idp.fetches == 2


async def test_dropped_key_is_refused_once_the_cache_lifetime_has_passed() -> None:
    """A key the JWKS stops publishing verifies tokens until the cached keys expire, then none,
    not even a token it verified before."""
    old, new = KeyPair.generate("ES256", kid="old"), KeyPair.generate("ES256", kid="new")
    async with jwks_server(old, new) as idp:
        auth = AuthSettings(jwks_url=idp.url, issuer=ISSUER, audience=AUDIENCE, jwks_cache_seconds=2.0)
        async with service_client(auth) as client:
            seen = token(old)
            assert await status_of(client, seen) == 200
            idp.keys = [new]
            assert await status_of(client, token(old, "user-2")) == 200  # the cached keys still hold it
            await asyncio.sleep(2.1)  # past the cache lifetime: the next lookup refetches
            assert await status_of(client, token(old, "user-3")) == 401
            assert await status_of(client, seen) == 401
            assert await status_of(client, token(new)) == 200
    assert idp.fetches == 2


async def test_unknown_kid_refetches_at_most_once_per_cooldown() -> None:
    """Tokens with unknown kids trigger one refetch, then wait for the cooldown."""
    known, stranger = KeyPair.generate("ES256", kid="k1"), KeyPair.generate("ES256", kid="zz")
    async with jwks_server(known) as idp:
        keys = JwksKeys(idp.url, cooldown_seconds=60)
        assert len(await keys.candidates("k1", "ES256")) == 1
        assert idp.fetches == 1
        for _ in range(5):
            assert await keys.candidates("zz", "ES256") == []
        assert idp.fetches == 1  # the first fetch is within the cooldown
        await keys.aclose()
        assert stranger.kid == "zz"


async def test_jwks_unreachable_without_cache_is_503() -> None:
    """When the JWKS cannot be fetched and nothing is cached, requests get 503 with Retry-After."""
    keys = KeyPair.generate("ES256", kid="k1")
    async with jwks_server(keys) as idp:
        idp.failing = True
        auth = AuthSettings(jwks_url=idp.url, issuer=ISSUER, audience=AUDIENCE)
        app = create_app("idp-down", endpoints=ENDPOINTS, auth=auth)
        async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
            response = await client.get("/api/whoami", headers=bearer(token(keys)))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_failed_refresh_keeps_cached_keys() -> None:
    """A failing refresh keeps serving with the keys already fetched."""
    keys = KeyPair.generate("ES256", kid="k1")
    async with jwks_server(keys) as idp:
        source = JwksKeys(idp.url, cooldown_seconds=0, cache_seconds=0.01)
        assert len(await source.candidates("k1", "ES256")) == 1
        idp.failing = True
        await asyncio.sleep(0.05)  # past cache_seconds: the next lookup refreshes
        assert len(await source.candidates("k1", "ES256")) == 1
        assert idp.fetches == 2
        await source.aclose()


async def test_first_fetch_failure_raises_backend_unavailable() -> None:
    """With no cached keys a failing JWKS raises BackendUnavailable naming the URL."""
    async with jwks_server() as idp:
        idp.failing = True
        source = JwksKeys(idp.url)
        with pytest.raises(BackendUnavailable, match=r"jwks\.json"):
            await source.candidates("k1", "ES256")
        await source.aclose()


def test_parse_jwks_skips_hmac_and_mislabelled_keys() -> None:
    """HMAC keys, encryption keys and keys whose type or curve contradicts their alg are not used."""
    rsa = KeyPair.generate("RS256", kid="r")
    mislabelled = {**rsa.jwk(), "alg": "ES256", "kid": "bad"}
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    wrong_curve = {**json.loads(ECAlgorithm.to_jwk(p384)), "alg": "ES256", "kid": "p384"}
    document = {
        "keys": [
            rsa.jwk(),
            {"kty": "oct", "k": "c2VjcmV0", "alg": "HS256", "kid": "h"},
            {**rsa.jwk(), "use": "enc", "kid": "e"},
            mislabelled,
            wrong_curve,
        ]
    }
    assert [(k.kid, k.algorithm) for k in parse_jwks(document)] == [("r", "RS256")]
