"""The query string as handlers see it: plain parameters as a mapping, declared filters typed."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from atlas_runtime.rest import Query, filter_type, parse_query

from .conftest import Api, Guild


async def test_plain_parameters_read_like_a_mapping(api: Api) -> None:
    """`request.query.get(...)`, `[...]`, `in`, iteration and len see the plain parameters."""
    response = await api.client.get(
        "/api/search?kind=mage&kind=thief&world=0&filter[name]=neo&page[size]=5", headers=api.headers()
    )
    assert response.status_code == 200
    assert response.json()["data"][0]["attributes"]["name"] == "mage"
    assert api.seen.calls[-1] == {
        "kind": "mage",
        "contains": True,
        "values": ["mage", "0"],
        "plain": {"kind": "mage", "world": "0"},
        "count": 2,
        "filters": {"name": "neo"},
        "size": 5,
    }


async def test_a_missing_plain_parameter_is_absent(api: Api) -> None:
    """Without a query string the mapping is empty and `get` answers None."""
    response = await api.client.get("/api/search", headers=api.headers())
    assert response.status_code == 200
    assert response.json()["data"][0]["attributes"]["name"] == "anyone"
    seen = api.seen.calls[-1]
    assert (seen["kind"], seen["contains"], seen["plain"], seen["count"]) == (None, False, {}, 0)


def test_query_is_a_read_only_mapping_of_first_values() -> None:
    """A Query maps each plain parameter to its first value; paging and filters stay apart."""
    query = parse_query([("sort", "name"), ("sort", "id"), ("filter[x]", "1"), ("page[number]", "2")])
    assert isinstance(query, Query)
    assert query["sort"] == "name" and query.param("sort") == "name"
    assert query.params == {"sort": ["name", "id"]}
    assert "filter[x]" not in query and "page[number]" not in query
    assert query.get("x", "none") == "none"
    with pytest.raises(KeyError):
        query["x"]
    with pytest.raises(TypeError):
        query["sort"] = "id"  # type: ignore[index]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("filter[member]=abc", "filter[member]"),
        ("filter[member]=-1", "filter[member]"),
        ("filter[member]=4294967296", "filter[member]"),
        ("filter[member]=5&filter[leader]=x", "filter[leader]"),
    ],
)
async def test_a_filter_value_of_the_wrong_type_is_400(api: Api, query: str, parameter: str) -> None:
    """A filter value that does not convert to the indexed field's type is a 400 naming the filter."""
    response = await api.client.get(f"/api/guilds?{query}", headers=api.headers())
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["source"] == {"parameter": parameter}
    assert parameter in error["detail"]
    assert api.seen.calls == []


async def test_a_well_typed_filter_reaches_the_handler(api: Api) -> None:
    """Declared filters with convertible values reach the handler unchanged."""
    response = await api.client.get("/api/guilds?filter[member]=5&filter[leader]=4", headers=api.headers())
    assert response.status_code == 200
    assert api.seen.calls[-1] == {"filters": {"member": "5", "leader": "4"}}


async def test_an_undeclared_filter_is_400_listing_the_declared_ones(api: Api) -> None:
    """A filter the endpoint does not declare is a 400 that lists the declared filters."""
    response = await api.client.get("/api/guilds?filter[colour]=red", headers=api.headers())
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["source"] == {"parameter": "filter[colour]"}
    assert "filter[leader], filter[member]" in error["detail"]


class Position(BaseModel):
    x: int


class Place(BaseModel):
    id: uuid.UUID
    at: Position
    trail: list[Position] = []
    next_stop: Stop | None = None  # declared below: a forward reference until rebuilt


class Stop(BaseModel):
    minute: int


@pytest.mark.parametrize(
    ("model", "path", "good", "bad"),
    [
        (Guild, "members", "4294967295", "4294967296"),
        (Guild, "leader_id", "0", "-1"),
        (Place, "id", str(uuid.uuid4()), "42"),
        (Place, "at.x", "-3", "x"),
        (Place, "trail.x", "7", "7.5"),
        (Place, "next_stop.minute", "9", "nine"),
    ],
)
def test_filter_type_follows_the_field(model: type[BaseModel], path: str, good: str, bad: str) -> None:
    """The filter type of a field unwraps lists and optionals, follows dots and keeps constraints."""
    adapter: TypeAdapter[Any] = TypeAdapter(filter_type(model, path))
    adapter.validate_strings(good)
    with pytest.raises(ValidationError):
        adapter.validate_strings(bad)


def test_filter_type_of_an_unknown_field_is_an_error() -> None:
    """A path that names no field raises ValueError naming it."""
    with pytest.raises(ValueError, match=r"at\.y"):
        filter_type(Place, "at.y")
    assert filter_type(Place, "at") is str
