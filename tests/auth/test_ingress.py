"""Bearer-token checks at ingress, against a real server."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends

from atlas_runtime.auth import AuthSettings, TokenVerifier
from atlas_runtime.auth.testing import KeyPair, token_claims
from atlas_runtime.errors import Unauthorized
from atlas_runtime.rest import create_app, needs_scopes
from atlas_runtime.rest.testing import running_server
from atlas_runtime.tenant import current_tenant

from .conftest import AUDIENCE, ISSUER, TENANT_ID, bearer, forged, serving, tenant_headers


def settings_for(keys: KeyPair, **overrides: Any) -> AuthSettings:
    return AuthSettings(public_key=keys.public_pem, issuer=ISSUER, audience=AUDIENCE, **overrides)


def claims(**overrides: Any) -> dict[str, Any]:
    base = token_claims(issuer=ISSUER, audience=AUDIENCE, tenant_id=TENANT_ID)
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_valid_token_is_accepted_for_each_algorithm(algorithm: str) -> None:
    """A token signed by the configured RS256, ES256 or EdDSA key is accepted."""
    keys = KeyPair.generate(algorithm)  # type: ignore[arg-type]
    async with serving(settings_for(keys)) as client:
        response = await client.get("/api/whoami", headers=bearer(keys.sign(claims())))
    assert response.status_code == 200
    assert response.json()["data"]["id"] == "user-1"


def refused_tokens(keys: KeyPair) -> dict[str, str]:
    now = int(time.time())
    other = KeyPair.generate("ES256")
    return {
        "expired": keys.sign(claims(exp=now - 120)),
        "not yet valid": keys.sign(claims(nbf=now + 120)),
        "wrong audience": keys.sign(claims(aud="billing")),
        "wrong issuer": keys.sign(claims(iss="https://evil.test")),
        "no exp": keys.sign(claims(exp=None)),
        "no audience": keys.sign(claims(aud=None)),
        "other key": other.sign(claims()),
        "alg none": forged(claims(), alg="none"),
        "HS256 with the public key": forged(claims(), alg="HS256", secret=keys.public_pem.encode()),
        "truncated": keys.sign(claims())[:-10],
    }


async def test_bad_tokens_are_refused_with_401() -> None:
    """Expired, premature, foreign, unsigned and algorithm-confused tokens are all 401 invalid_token."""
    keys = KeyPair.generate("ES256")
    async with serving(settings_for(keys)) as client:
        for name, token in refused_tokens(keys).items():
            response = await client.get("/api/whoami", headers=bearer(token))
            assert response.status_code == 401, name
            assert 'error="invalid_token"' in response.headers["www-authenticate"], name
            assert response.json()["errors"][0]["status"] == "401", name


async def test_expiry_within_leeway_is_accepted() -> None:
    """A token expired for less than the leeway is still accepted."""
    keys = KeyPair.generate("ES256")
    async with serving(settings_for(keys, leeway=30)) as client:
        token = keys.sign(claims(exp=int(time.time()) - 10))
        assert (await client.get("/api/whoami", headers=bearer(token))).status_code == 200


async def test_hs256_confusion_is_refused_with_rsa_key() -> None:
    """An HS256 token whose secret is the RSA public key PEM is refused."""
    keys = KeyPair.generate("RS256")
    async with serving(settings_for(keys)) as client:
        token = forged(claims(), alg="HS256", secret=keys.public_pem.encode())
        assert (await client.get("/api/whoami", headers=bearer(token))).status_code == 401


async def test_tenant_mismatch_is_403() -> None:
    """A token whose tenant_id differs from the TENANT_ID header is 403."""
    keys = KeyPair.generate("ES256")
    async with serving(settings_for(keys)) as client:
        response = await client.get(
            "/api/whoami", headers=bearer(keys.sign(claims()), tenant_id=uuid.uuid4())
        )
    assert response.status_code == 403
    assert "tenant_id" in response.json()["errors"][0]["detail"]


async def test_token_without_tenant_is_403_unless_service() -> None:
    """A token without tenant_id is 403, unless it carries the service scope."""
    keys = KeyPair.generate("ES256")
    async with serving(settings_for(keys)) as client:
        user = keys.sign(claims(tenant_id=None))
        service = keys.sign(claims(tenant_id=None, scope="atlas:service"))
        assert (await client.get("/api/whoami", headers=bearer(user))).status_code == 403
        assert (await client.get("/api/whoami", headers=bearer(service))).status_code == 200


async def test_endpoint_scopes_read_scope_and_scp() -> None:
    """Endpoint scopes are met by a space-separated `scope` or an `scp` list; otherwise 403."""
    keys = KeyPair.generate("ES256")
    async with serving(settings_for(keys)) as client:
        with_scope = keys.sign(claims(scope="read admin"))
        with_scp = keys.sign(claims(scp=["admin"]))
        without = keys.sign(claims(scope="read"))
        assert (await client.get("/api/admin", headers=bearer(with_scope))).status_code == 200
        assert (await client.get("/api/admin", headers=bearer(with_scp))).status_code == 200
        response = await client.get("/api/admin", headers=bearer(without))
    assert response.status_code == 403
    assert "admin" in response.json()["errors"][0]["detail"]


async def test_auth_off_serves_without_tokens() -> None:
    """With AUTH_MODE=off a route answers 200 without a token, bound to the tenant of the headers."""
    async with serving(AuthSettings(mode="off")) as client:
        response = await client.get("/api/tenant", headers=tenant_headers())
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "type": "tenants",
        "id": str(TENANT_ID),
        "attributes": {"region": "GMS", "version": "83.1", "authenticated": False},
    }


@pytest.mark.parametrize("header", [None, "TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"])
async def test_auth_off_still_requires_tenant_headers(header: str | None) -> None:
    """With AUTH_MODE=off a request without its tenant headers (all, or any one) is 400 naming the header."""
    headers = {} if header is None else {k: v for k, v in tenant_headers().items() if k != header}
    async with serving(AuthSettings(mode="off")) as client:
        response = await client.get("/api/tenant", headers=headers)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["status"] == "400"
    assert error["source"]["header"] == (header or "TENANT_ID")


async def test_verifier_remembers_tokens_only_until_they_expire() -> None:
    """A remembered token is refused once it expires."""
    keys = KeyPair.generate("ES256")
    verifier = TokenVerifier.from_settings(settings_for(keys, leeway=0))
    token = keys.sign(claims(exp=int(time.time()) + 1))
    assert (await verifier.verify(token)).tenant_id == str(TENANT_ID)
    assert (await verifier.verify(token)).tenant_id == str(TENANT_ID)
    time.sleep(2.1)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)


async def test_several_pem_keys_are_accepted() -> None:
    """AUTH_PUBLIC_KEY may hold several PEM blocks (a rotation window): tokens of each verify."""
    old, new = KeyPair.generate("RS256"), KeyPair.generate("ES256")
    verifier = TokenVerifier.from_settings(
        AuthSettings(public_key=old.public_pem + new.public_pem, issuer=ISSUER, audience=AUDIENCE)
    )
    assert (await verifier.verify(old.sign(claims()))).subject == "user-1"
    assert (await verifier.verify(new.sign(claims(sub="user-2")))).subject == "user-2"


async def test_hand_written_router_scopes_are_checked() -> None:
    """A FastAPI router guarded by `needs_scopes` answers 403 without the scope and 200 with it."""
    keys = KeyPair.generate("ES256")
    router = APIRouter(dependencies=[Depends(needs_scopes("reports"))])

    @router.get("/reports")
    async def reports() -> dict[str, str]:
        return {"tenant": str(current_tenant().id)}

    app = create_app("routers", routers=[router], auth=settings_for(keys))
    async with running_server(app) as server, httpx.AsyncClient(base_url=server.url) as client:
        denied = await client.get("/api/reports", headers=bearer(keys.sign(claims(scope="other"))))
        allowed = await client.get("/api/reports", headers=bearer(keys.sign(claims(scope="reports"))))
    assert denied.status_code == 403 and denied.json()["errors"][0]["status"] == "403"
    assert allowed.status_code == 200 and allowed.json() == {"tenant": str(TENANT_ID)}
