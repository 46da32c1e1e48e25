"""Base classes of generated models: wire names as declared, or camelCase on the wire.

Generated models subclass `WireModel` (JSON uses the declared snake_case names) or
`CamelWireModel` (a service with `wire_case: camel`: JSON uses camelCase, Python keeps the
declared names, and both spellings are accepted on input). Always serialise with
`to_wire()` so the alias choice is applied.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """A record whose JSON field names are the declared names."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict of this record, with wire names."""
        return self.model_dump(mode="json", by_alias=True)


class CamelWireModel(WireModel):
    """A record whose JSON field names are camelCase (`transaction_id` <-> `transactionId`)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=to_camel)
