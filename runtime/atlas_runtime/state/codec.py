"""Encoding of registry keys and values, and extraction of indexed field values.

Values are pydantic models stored as their JSON (by alias, so a `wire_case: camel`
model writes the same JSON as the existing ecosystem); a plain dict is validated into
the model first. Keys are stored as text and parsed back into the declared key type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from atlas_runtime.state._errors import StateDecodeError
from atlas_runtime.state.keys import check_member, format_index_value

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K")


class ValueCodec(Generic[M]):
    """Model <-> JSON text for one value type."""

    def __init__(self, value_type: type[M]) -> None:
        self.value_type = value_type

    def coerce(self, value: M | Mapping[str, Any]) -> M:
        """The value as the model: a model instance as is, a mapping validated."""
        if isinstance(value, self.value_type):
            return value
        if isinstance(value, Mapping):
            return self.value_type.model_validate(value)
        raise TypeError(
            f"expected a {self.value_type.__name__} or a dict, got {type(value).__name__}: {value!r}"
        )

    def encode(self, value: M) -> str:
        return value.model_dump_json(by_alias=True)

    def decode(self, text: str, *, key: str) -> M:
        try:
            return self.value_type.model_validate_json(text)
        except ValidationError as error:
            raise StateDecodeError(key, f"not a valid {self.value_type.__name__}: {error}") from error


class KeyCodec(Generic[K]):
    """Key <-> member text for one key type (int, str, UUID, ...)."""

    def __init__(self, key_type: type[K]) -> None:
        self.key_type = key_type
        self._adapter: TypeAdapter[K] = TypeAdapter(key_type)

    def encode(self, key: K) -> str:
        if isinstance(key, bool):
            raise TypeError(f"registry keys cannot be booleans: {key!r}")
        return check_member(str(key))

    def decode(self, member: str) -> K:
        if self.key_type is str:
            return member  # type: ignore[return-value]
        return self._adapter.validate_strings(member)


def index_values(document: Mapping[str, Any], path: str) -> set[str]:
    """Canonical texts of every value at dotted `path` in `document`; lists index each item."""
    return {format_index_value(value) for value in _walk(document, path.split("."))}


def _walk(node: Any, parts: list[str]) -> Iterator[Any]:
    if isinstance(node, list | tuple | set | frozenset):
        for item in node:
            yield from _walk(item, parts)
        return
    if node is None:
        return
    if not parts:
        yield node
        return
    if isinstance(node, Mapping) and parts[0] in node:
        yield from _walk(node[parts[0]], parts[1:])
