"""JSON:API documents and body parsing."""

from __future__ import annotations

import datetime
import uuid

import pytest
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from atlas_runtime.errors import Conflict
from atlas_runtime.rest import InvalidBody, decode_resource, parse_resource_body, resource_document
from atlas_runtime.rest.jsonapi import error_document, json_pointer


class Invite(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    id: int
    party_id: int
    target_ids: list[int] = Field(default_factory=list)


def test_dict_values_are_made_json_ready() -> None:
    """A dict result with uuids and datetimes becomes plain JSON attributes; its id a string."""
    owner = uuid.uuid4()
    when = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)
    document = resource_document("notes", {"id": 5, "owner": owner, "at": when})
    assert document == {
        "data": {
            "type": "notes",
            "id": "5",
            "attributes": {"owner": str(owner), "at": "2026-12-03T12:00:00Z"},
        }
    }


def test_aliased_models_speak_their_wire_case() -> None:
    """A model with a camelCase alias generator is written and read in camelCase."""
    document = resource_document("invites", Invite(id=1, party_id=7, target_ids=[3]))
    assert document["data"]["attributes"] == {"partyId": 7, "targetIds": [3]}
    parsed = parse_resource_body(
        {"data": {"type": "invites", "id": "1", "attributes": {"partyId": 7}}},
        Invite,
        resource_type="invites",
    )
    assert parsed == Invite(id=1, party_id=7)


def test_data_id_errors_point_at_data_id() -> None:
    """An invalid `data.id` is reported at `/data/id`; attribute errors under `/data/attributes`."""
    with pytest.raises(InvalidBody) as caught:
        parse_resource_body({"data": {"type": "invites", "id": "x", "attributes": {"partyId": "y"}}}, Invite)
    pointers = sorted(e["source"]["pointer"] for e in error_document(caught.value)["errors"])
    assert pointers == ["/data/attributes/partyId", "/data/id"]


def test_nested_errors_point_into_lists() -> None:
    """Errors inside lists point at the item index."""
    with pytest.raises(InvalidBody) as caught:
        parse_resource_body({"data": {"attributes": {"id": 1, "partyId": 2, "targetIds": [1, "b"]}}}, Invite)
    assert caught.value.problems[0].pointer == "/data/attributes/targetIds/1"


def test_type_mismatch_is_conflict() -> None:
    """A document for another resource type is a Conflict pointing at `/data/type`."""
    with pytest.raises(Conflict) as caught:
        parse_resource_body({"data": {"type": "parties", "attributes": {}}}, Invite, resource_type="invites")
    assert caught.value.pointer == "/data/type"


def test_json_pointer_escapes() -> None:
    """Pointer segments escape `~` and `/` as RFC 6901 requires."""
    assert json_pointer("data", "attributes", "a/b~c", 0) == "/data/attributes/a~1b~0c/0"


def test_decode_resource_merges_the_id() -> None:
    """A resource object decodes into the model with its string id converted."""
    assert decode_resource({"type": "invites", "id": "4", "attributes": {"partyId": 9}}, Invite) == Invite(
        id=4, party_id=9
    )
