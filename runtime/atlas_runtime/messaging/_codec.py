"""Envelope encoding: JSON `{"type": ..., "body": {...}, <envelope fields>}` on the wire.

`decode` validates the JSON bytes straight into the typed envelope (a pydantic model
class, or a `TypeAdapter` over a discriminated union) in one pass of pydantic-core. Only
when that fails does it parse the value again to tell which type the message claims, so
that a consumer can skip a type it does not handle however malformed its body. Names on
the wire follow the models' aliases (a `wire_case: camel` service generates camelCase
aliases), so encoding always dumps by alias.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json

from atlas_runtime.messaging._errors import MessageDecodeError

EnvelopeType = type[BaseModel] | TypeAdapter[Any]


class EnvelopeCodec:
    """Encodes and decodes one topic's envelopes.

    Args:
        envelope: the envelope model class or a TypeAdapter; None keeps plain dicts.
    """

    def __init__(self, envelope: EnvelopeType | None) -> None:
        self._adapter: TypeAdapter[Any] | None
        if envelope is None or isinstance(envelope, TypeAdapter):
            self._adapter = envelope
        else:
            self._adapter = TypeAdapter(envelope)

    def decode(self, value: bytes | None) -> tuple[str, Any]:
        """The message type and the typed envelope (the parsed dict without an envelope type).

        Raises:
            MessageDecodeError: the value is not a valid envelope; its `message_type` says
                which type it claims, when it has a string `type`.
        """
        if self._adapter is not None and value:
            try:
                envelope = self._adapter.validator.validate_json(value)
            except ValidationError as error:
                message_type, _ = self.peek(value)
                raise MessageDecodeError(
                    f"message is not a valid envelope: {error}", message_type=message_type
                ) from None
            claimed = envelope.get("type") if isinstance(envelope, dict) else getattr(envelope, "type", None)
            if isinstance(claimed, str):
                return claimed, envelope
        message_type, data = self.peek(value)
        if self._adapter is None:
            return message_type, data
        raise MessageDecodeError("the envelope has no string `type`", message_type=message_type)

    @staticmethod
    def peek(value: bytes | None) -> tuple[str, dict[str, Any]]:
        """Parse `value` as a JSON object and return its `type` and the object.

        Raises:
            MessageDecodeError: the value is empty, not JSON, not an object or has no string `type`.
        """
        if not value:
            raise MessageDecodeError("message has no value; expected a JSON envelope")
        try:
            data = from_json(value)
        except ValueError as error:
            raise MessageDecodeError(f"message value is not JSON: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("type"), str):
            raise MessageDecodeError("message value is not a JSON object with a string `type`")
        return data["type"], data

    def encode(self, envelope: BaseModel | Mapping[str, Any]) -> bytes:
        """The JSON bytes of `envelope`; a plain mapping is validated against the envelope type first."""
        if isinstance(envelope, BaseModel):
            return envelope.model_dump_json(by_alias=True).encode()
        if self._adapter is None:
            return json.dumps(dict(envelope), separators=(",", ":"), default=str).encode()
        try:
            model = self._adapter.validate_python(dict(envelope))
        except ValidationError as error:
            raise MessageDecodeError(f"message is not a valid envelope: {error}") from None
        return self._adapter.dump_json(model, by_alias=True)


def envelope_field(envelope: object, name: str) -> Any:
    """The value of envelope field `name` on a model or a dict (None when absent)."""
    if isinstance(envelope, Mapping):
        return envelope.get(name)
    return getattr(envelope, name, None)


def key_bytes(value: object) -> bytes | None:
    """A Kafka key from an envelope field value: `str(value)` in UTF-8; None stays None."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return str(value).encode()
