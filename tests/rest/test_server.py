"""The service app against a real uvicorn server: documents, the error matrix, context."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from atlas_runtime.db.drainer import BACKLOG
from atlas_runtime.rest import MEDIA_TYPE, REQUEST_ID_HEADER

from .conftest import MAX_BODY, Api


def only_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["status"] == str(status)
    return dict(errors[0])


async def test_get_answers_one_jsonapi_resource(api: Api) -> None:
    """A handler's model becomes one JSON:API resource typed by the endpoint, id as a string."""
    response = await api.client.get("/api/members/7", headers=api.headers())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(MEDIA_TYPE)
    assert response.json() == {
        "data": {"type": "members", "id": "7", "attributes": {"name": "member-7", "level": 1}}
    }


async def test_handler_runs_as_the_header_tenant_with_the_verified_principal(api: Api) -> None:
    """The handler sees the tenant of the headers and the token's principal."""
    await api.client.get("/api/members/7", headers=api.headers())
    call = api.seen.calls[-1]
    assert call["tenant"].id == api.tenant_id
    assert (call["tenant"].region, call["tenant"].major_version, call["tenant"].minor_version) == (
        "GMS",
        83,
        1,
    )
    assert call["principal"].tenant_id == str(api.tenant_id)


@pytest.mark.parametrize("header", ["TENANT_ID", "REGION", "MAJOR_VERSION", "MINOR_VERSION"])
async def test_missing_tenant_header_is_400_naming_it(api: Api, header: str) -> None:
    """A missing tenant header is a 400 whose error names the header."""
    headers = api.headers()
    del headers[header]
    error = only_error(await api.client.get("/api/members/7", headers=headers), 400)
    assert error["source"] == {"header": header}
    assert header in error["detail"]


@pytest.mark.parametrize(
    ("header", "value"), [("TENANT_ID", "not-a-uuid"), ("MAJOR_VERSION", "8x"), ("MINOR_VERSION", "70000")]
)
async def test_malformed_tenant_header_is_400_naming_it(api: Api, header: str, value: str) -> None:
    """A malformed tenant header is a 400 naming the header and the bad value."""
    headers = {**api.headers(), header: value}
    error = only_error(await api.client.get("/api/members/7", headers=headers), 400)
    assert error["source"] == {"header": header}
    assert value in error["detail"]


async def test_missing_token_is_401_with_challenge(api: Api) -> None:
    """A request without a bearer token is a 401 with a `WWW-Authenticate: Bearer` challenge."""
    headers = api.headers()
    del headers["Authorization"]
    response = await api.client.get("/api/members/7", headers=headers)
    only_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_garbage_token_is_401_invalid_token(api: Api) -> None:
    """A malformed token is a 401 whose challenge says `invalid_token`."""
    response = await api.client.get("/api/members/7", headers=api.headers(token="not.a.jwt"))
    only_error(response, 401)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_missing_scope_is_403(api: Api) -> None:
    """An endpoint's declared scope missing from the token is a 403 naming the scope."""
    body = {"data": {"type": "members", "attributes": {"id": 1, "name": "a"}}}
    response = await api.client.post("/api/members", json=body, headers=api.headers(scopes="members:read"))
    assert "members:write" in only_error(response, 403)["detail"]


async def test_handler_not_found_is_404(api: Api) -> None:
    """`NotFound` raised by a handler is a 404 error document with its detail."""
    error = only_error(await api.client.get("/api/members/404", headers=api.headers()), 404)
    assert error["detail"] == "member 404 does not exist"


async def test_unknown_route_is_404_document(api: Api) -> None:
    """An unknown path is a 404 JSON:API error document."""
    only_error(await api.client.get("/api/nothing-here", headers=api.headers()), 404)


async def test_conflict_is_409(api: Api) -> None:
    """`Conflict` raised by a handler is a 409 error document."""
    only_error(await api.client.get("/api/members/409", headers=api.headers()), 409)


async def test_bad_path_parameter_is_400_naming_it(api: Api) -> None:
    """A path parameter that does not convert to its type is a 400 naming the parameter."""
    error = only_error(await api.client.get("/api/members/abc", headers=api.headers()), 400)
    assert error["source"] == {"parameter": "id"}


async def test_unexpected_error_is_500_without_internals(api: Api) -> None:
    """An unexpected exception is a 500 that reveals nothing of the error, only the request id."""
    response = await api.client.get("/api/members/500", headers=api.headers())
    error = only_error(response, 500)
    assert "hunter2" not in response.text and "RuntimeError" not in response.text
    assert response.headers[REQUEST_ID_HEADER] in error["detail"]


async def test_a_stub_handler_is_501(api: Api) -> None:
    """A handler still raising `NotImplementedError` (a scaffolded stub) answers 501, naming no code."""
    response = await api.client.get("/api/members/501", headers=api.headers())
    error = only_error(response, 501)
    assert error["title"] == "Not Implemented"
    assert "conftest" not in response.text


async def test_backend_unavailable_is_503_with_retry_after(api: Api) -> None:
    """A transient backend failure is a 503 with `Retry-After`, without the backend's address."""
    response = await api.client.get("/api/members/503", headers=api.headers())
    only_error(response, 503)
    assert response.headers["retry-after"] == "1"
    assert "10.0.0.1" not in response.text


async def test_post_validates_body_into_model(api: Api) -> None:
    """A valid JSON:API body reaches the handler as the model; the declared status answers."""
    body = {"data": {"type": "members", "attributes": {"id": 3, "name": "neo", "level": 5}}}
    response = await api.client.post("/api/members", json=body, headers=api.headers())
    assert response.status_code == 201
    assert response.json()["data"] == {
        "type": "members",
        "id": "3",
        "attributes": {"name": "neo", "level": 5},
    }


async def test_invalid_attribute_is_422_with_pointer(api: Api) -> None:
    """An invalid attribute is a 422 whose error points at `/data/attributes/<field>`."""
    body = {"data": {"type": "members", "attributes": {"id": 3, "name": "neo", "level": 0}}}
    error = only_error(await api.client.post("/api/members", json=body, headers=api.headers()), 422)
    assert error["source"] == {"pointer": "/data/attributes/level"}


async def test_every_invalid_attribute_is_reported(api: Api) -> None:
    """Each invalid or missing attribute gets its own error object and pointer."""
    body = {"data": {"type": "members", "attributes": {"level": "high"}}}
    response = await api.client.post("/api/members", json=body, headers=api.headers())
    assert response.status_code == 422
    pointers = {e["source"]["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/data/attributes/id", "/data/attributes/name", "/data/attributes/level"}


async def test_document_without_data_is_422(api: Api) -> None:
    """A body that is not a JSON:API document is a 422 pointing at `/data`."""
    response = await api.client.post("/api/members", json={"name": "x"}, headers=api.headers())
    assert only_error(response, 422)["source"] == {"pointer": "/data"}


async def test_malformed_json_is_400(api: Api) -> None:
    """A body that is not JSON at all is a 400."""
    headers = {**api.headers(), "Content-Type": MEDIA_TYPE}
    only_error(await api.client.post("/api/members", content=b"{nope", headers=headers), 400)


async def test_wrong_resource_type_is_409(api: Api) -> None:
    """A body whose `data.type` names another resource is a 409 pointing at `/data/type`."""
    body = {"data": {"type": "parties", "attributes": {"id": 3, "name": "neo"}}}
    error = only_error(await api.client.post("/api/members", json=body, headers=api.headers()), 409)
    assert error["source"] == {"pointer": "/data/type"}


async def test_declared_large_body_is_413(api: Api) -> None:
    """A body whose Content-Length exceeds the limit is a 413 without reading it."""
    response = await api.client.post("/api/members", content=b"x" * (MAX_BODY + 1), headers=api.headers())
    only_error(response, 413)


async def test_streamed_large_body_is_413(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """A chunked body without Content-Length is cut off with a 413 once it passes the limit, quietly."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 1024

    with caplog.at_level("ERROR", logger="atlas_runtime"):
        response = await api.client.post("/api/members", content=chunks(), headers=api.headers())
    assert "content-length" not in response.request.headers
    only_error(response, 413)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_body_at_the_limit_is_accepted(api: Api) -> None:
    """A body of exactly the limit is read and handled."""
    body = b'{"data":{"type":"members","attributes":{"id":1,"name":"' + b"n" * MAX_BODY
    body = body[: MAX_BODY - 4] + b'"}}}'
    assert len(body) == MAX_BODY
    response = await api.client.post("/api/members", content=body, headers=api.headers())
    assert response.status_code == 201, response.text


async def test_none_result_is_204(api: Api) -> None:
    """A handler returning None without a declared status answers 204 with no body."""
    response = await api.client.delete("/api/members/4", headers=api.headers())
    assert response.status_code == 204 and response.content == b""


async def test_request_id_is_echoed(api: Api) -> None:
    """A caller's X-Request-ID is echoed and is the handler's current request id."""
    response = await api.client.get("/api/members/7", headers={**api.headers(), "X-Request-ID": "abc-123"})
    assert response.headers[REQUEST_ID_HEADER] == "abc-123"
    assert api.seen.calls[-1]["request_id"] == "abc-123"


async def test_request_id_is_generated_when_absent(api: Api) -> None:
    """Without X-Request-ID the server makes one, distinct per request."""
    first = await api.client.get("/api/members/7", headers=api.headers())
    second = await api.client.get("/api/members/7", headers=api.headers())
    assert first.headers[REQUEST_ID_HEADER] != second.headers[REQUEST_ID_HEADER]
    assert len(first.headers[REQUEST_ID_HEADER]) == 32


async def test_traceparent_is_continued(api: Api) -> None:
    """A caller's traceparent makes the handler's span a child in the same trace."""
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await api.client.get("/api/members/7", headers={**api.headers(), "traceparent": parent})
    trace = api.seen.calls[-1]["trace"]
    assert (trace.trace_id, trace.parent_id) == ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert trace.span_id != "b7ad6b7169203331"


async def test_malformed_traceparent_starts_a_new_trace(api: Api) -> None:
    """A malformed traceparent is ignored and a new trace is started."""
    await api.client.get("/api/members/7", headers={**api.headers(), "traceparent": "00-zz-01"})
    trace = api.seen.calls[-1]["trace"]
    assert trace.parent_id is None and len(trace.trace_id) == 32


async def test_open_routes_need_no_token_or_tenant(api: Api) -> None:
    """Health, readiness and metrics answer without a token or tenant headers."""
    assert (await api.client.get("/api/health")).json() == {"status": "ok"}
    assert (await api.client.get("/api/readyz")).status_code == 200
    assert (await api.client.get("/metrics")).status_code == 200


async def test_metrics_record_route_templates(api: Api) -> None:
    """Latency is recorded per route template, method and status, not per concrete path."""
    await api.client.get("/api/members/7", headers=api.headers())
    await api.client.get("/api/members/404", headers=api.headers())
    text = (await api.client.get("/metrics")).text
    assert (
        'atlas_http_request_duration_seconds_count{method="GET",route="/api/members/{id}",status="200"} 1.0'
        in text
    )
    assert 'route="/api/members/{id}",status="404"' in text
    assert "/api/members/7" not in text


async def test_metrics_include_the_runtimes_process_metrics(api: Api) -> None:
    """`/metrics` also serves the runtime's process-wide metrics (outbox, sagas) and the process's."""
    BACKLOG.labels("metrics-probe").set(3)
    text = (await api.client.get("/metrics")).text
    assert 'atlas_outbox_backlog{service="metrics-probe"} 3.0' in text
    assert "process_cpu_seconds_total" in text or "python_gc_objects_collected_total" in text
    assert text.count("# TYPE atlas_http_request_duration_seconds histogram") == 1


async def test_access_log_carries_request_id_and_route(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """Each request is logged with its request id, trace id and route template."""
    with caplog.at_level("INFO", logger="atlas_runtime.rest.access"):
        await api.client.get("/api/members/7", headers={**api.headers(), "X-Request-ID": "log-me"})
    records = [r for r in caplog.records if r.name == "atlas_runtime.rest.access"]
    assert [vars(r)["request_id"] for r in records] == ["log-me"]
    assert vars(records[0])["route"] == "/api/members/{id}"
    assert records[0].getMessage().startswith("GET /api/members/7 200 ")
