"""Paged collections and query parsing over a real server."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from atlas_runtime.errors import BadRequest
from atlas_runtime.rest import PageParams, paginate, parse_query

from .conftest import Api


def page_of(link: str) -> tuple[str, str]:
    query = dict(parse_qsl(urlsplit(link).query))
    return query["page[number]"], query["page[size]"]


async def test_list_is_paged_with_meta_and_links(api: Api) -> None:
    """A list result is paged: meta carries total and page, links carry self/first/last/prev/next."""
    response = await api.client.get("/api/members?page[number]=2&page[size]=3", headers=api.headers())
    document = response.json()
    assert [item["id"] for item in document["data"]] == ["4", "5", "6"]
    assert document["meta"] == {"total": 7, "page": {"number": 2, "size": 3, "last": 3}}
    links = document["links"]
    assert {name: page_of(link) for name, link in links.items()} == {
        "self": ("2", "3"),
        "first": ("1", "3"),
        "last": ("3", "3"),
        "prev": ("1", "3"),
        "next": ("3", "3"),
    }
    assert links["self"].startswith("/api/members?") and "%5B" in links["self"]


async def test_first_page_has_no_prev_and_last_has_no_next(api: Api) -> None:
    """Page 1 omits prev; the last page omits next."""
    first = (await api.client.get("/api/members?page[size]=7", headers=api.headers())).json()
    assert "prev" not in first["links"] and "next" not in first["links"]
    assert first["meta"]["page"] == {"number": 1, "size": 7, "last": 1}


async def test_default_page_size_is_50(api: Api) -> None:
    """Without page parameters the first 50 items are served."""
    document = (await api.client.get("/api/members", headers=api.headers())).json()
    assert document["meta"]["page"] == {"number": 1, "size": 50, "last": 1}
    assert len(document["data"]) == 7


async def test_past_the_end_is_empty_with_prev_to_last(api: Api) -> None:
    """A page past the end is 200 with no data, prev pointing at the last page, and no next."""
    response = await api.client.get("/api/members?page[number]=9&page[size]=3", headers=api.headers())
    document = response.json()
    assert response.status_code == 200 and document["data"] == []
    assert page_of(document["links"]["prev"]) == ("3", "3")
    assert "next" not in document["links"]


async def test_async_iterator_results_are_paged(api: Api) -> None:
    """An async-iterator result is counted in full and paged like a list."""
    document = (await api.client.get("/api/stream?page[number]=3&page[size]=3", headers=api.headers())).json()
    assert [item["id"] for item in document["data"]] == ["7"]
    assert document["meta"]["total"] == 7


async def test_links_keep_filters(api: Api) -> None:
    """Paging links keep the request's other parameters, such as filters."""
    response = await api.client.get("/api/members?filter[members.id]=5&page[size]=2", headers=api.headers())
    assert dict(parse_qsl(urlsplit(response.json()["links"]["next"]).query))["filter[members.id]"] == "5"
    assert api.seen.calls[-1]["filters"] == {"members.id": "5"}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page[size]=251", "page[size]"),
        ("page[size]=0", "page[size]"),
        ("page[size]=ten", "page[size]"),
        ("page[number]=0", "page[number]"),
        ("page[number]=-1", "page[number]"),
        ("page[offset]=5", "page[offset]"),
        ("limit=10", "limit"),
        ("page[number]=1&limit=10", "limit"),
    ],
)
async def test_bad_paging_is_400_naming_the_parameter(api: Api, query: str, parameter: str) -> None:
    """Bad paging values and the legacy `limit` are 400s naming the parameter, never clamped."""
    response = await api.client.get(f"/api/members?{query}", headers=api.headers())
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": parameter}


def test_parse_query_separates_filters_pages_and_params() -> None:
    """Filters, paging and plain parameters are parsed apart."""
    query = parse_query(
        [
            ("filter[name]", "neo"),
            ("page[size]", "10"),
            ("page[number]", "2"),
            ("sort", "name"),
            ("sort", "id"),
        ]
    )
    assert query.filters == {"name": "neo"}
    assert query.page == PageParams(number=2, size=10)
    assert query.params == {"sort": ["name", "id"]}
    assert query.param("sort") == "name"


def test_repeated_filter_is_rejected() -> None:
    """A filter given twice is a 400 naming it."""
    with pytest.raises(BadRequest) as caught:
        parse_query([("filter[name]", "a"), ("filter[name]", "b")])
    assert caught.value.parameter == "filter[name]"


def test_page_last_is_at_least_one() -> None:
    """An empty collection still has one (empty) last page."""
    page = paginate([object()][:0], PageParams(number=1, size=50))
    assert page.meta() == {"total": 0, "page": {"number": 1, "size": 50, "last": 1}}
    assert set(page.links("/api/x")) == {"self", "first", "last"}
