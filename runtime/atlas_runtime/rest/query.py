"""Query-string parsing: `page[number]`/`page[size]` paging and `filter[...]` filters.

The conventions match the existing ecosystem: pages are numbered from 1, the size
defaults to 50 and may not exceed 250, a bad value is a 400 naming the parameter
(never clamped), and the legacy `limit` parameter is rejected outright. `filter_type`
works out which type a filter over a model's field must convert to.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from atlas_runtime.errors import BadRequest

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
PAGE_NUMBER = "page[number]"
PAGE_SIZE = "page[size]"


@dataclass(frozen=True, slots=True)
class PageParams:
    """The requested page: `number` from 1, `size` items per page."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True, slots=True)
class Query(Mapping[str, str]):
    """A parsed query string.

    It is also a read-only mapping of the plain parameters (neither `page[...]` nor
    `filter[...]`) to their first value: `query.get("kind")`, `query["kind"]`,
    `"kind" in query`, iteration and `len` see only those.

    Attributes:
        page: the requested page.
        filters: `filter[<name>]=<value>` pairs, keyed by `<name>` (e.g. `members.id`).
        params: every other parameter, with all its values.
    """

    page: PageParams = field(default_factory=PageParams)
    filters: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, list[str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        values = self.params.get(name)
        if not values:
            raise KeyError(name)
        return values[0]

    def __iter__(self) -> Iterator[str]:
        return (name for name, values in self.params.items() if values)

    def __len__(self) -> int:
        return sum(1 for values in self.params.values() if values)

    def param(self, name: str) -> str | None:
        """The first value of a plain parameter, or None (the same as `get(name)`)."""
        return self.get(name)


def parse_query(
    items: Iterable[tuple[str, str]],
    *,
    default_size: int = DEFAULT_PAGE_SIZE,
    max_size: int = MAX_PAGE_SIZE,
) -> Query:
    """Parse query-string pairs.

    Raises:
        BadRequest: a page parameter that is not an integer in range, an unknown
            `page[...]` key, a repeated page or filter parameter, or `limit`.
    """
    page_values: dict[str, str] = {}
    filters: dict[str, str] = {}
    params: dict[str, list[str]] = {}
    for name, value in items:
        if name == "limit":
            raise BadRequest(
                "the limit parameter is not supported; use page[number] and page[size]", parameter="limit"
            )
        if name.startswith("page["):
            _put_once(page_values, name, value)
        elif name.startswith("filter[") and name.endswith("]") and len(name) > len("filter[]"):
            _put_once(filters, name[len("filter[") : -1], value, parameter=name)
        else:
            params.setdefault(name, []).append(value)
    return Query(page=_page(page_values, default_size, max_size), filters=filters, params=params)


def _put_once(target: dict[str, str], key: str, value: str, *, parameter: str | None = None) -> None:
    if key in target:
        raise BadRequest(f"{parameter or key} is given more than once", parameter=parameter or key)
    target[key] = value


def _page(values: Mapping[str, str], default_size: int, max_size: int) -> PageParams:
    unknown = sorted(set(values) - {PAGE_NUMBER, PAGE_SIZE})
    if unknown:
        raise BadRequest(
            f"{unknown[0]} is not a paging parameter; use page[number] and page[size]", parameter=unknown[0]
        )
    number = _positive_int(PAGE_NUMBER, values.get(PAGE_NUMBER), default=1, maximum=None)
    size = _positive_int(PAGE_SIZE, values.get(PAGE_SIZE), default=default_size, maximum=max_size)
    return PageParams(number=number, size=size)


def _positive_int(name: str, raw: str | None, *, default: int, maximum: int | None) -> int:
    if raw is None:
        return default
    bound = f" and at most {maximum}" if maximum is not None else ""
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        raise BadRequest(f"{name} is {raw!r}; expected an integer of at least 1{bound}", parameter=name)
    return int(raw)


def filter_type(model: type[BaseModel], path: str) -> Any:
    """The type a filter over `path` of `model` converts its value to.

    `path` is a field name, dotted through nested models (`position.x`); list items
    and optional values are unwrapped (a `list[UInt32]` field filters by `UInt32`),
    and field constraints are kept. A field holding a model or a dict gives `str`.

    Raises:
        ValueError: `path` does not name a field of `model`.
    """
    kind: Any = model
    for part in path.split("."):
        kind = _element(kind)
        fields = _fields(kind) if isinstance(kind, type) and issubclass(kind, BaseModel) else {}
        if part not in fields:
            raise ValueError(f"{model.__name__} has no field {path!r} (no {part!r} in {kind!r})")
        info = fields[part]
        kind = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    kind = _element(kind)
    if (isinstance(kind, type) and issubclass(kind, BaseModel)) or get_origin(kind) in (dict, Mapping):
        return str
    return kind


def _fields(model: type[BaseModel]) -> Mapping[str, Any]:
    """The fields of `model`, forward references resolved (a model naming one declared later)."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    return model.model_fields


def _element(kind: Any) -> Any:
    """`kind` without `None` alternatives and collection wrappers."""
    origin = get_origin(kind)
    if origin is Annotated:
        inner = get_args(kind)[0]
        unwrapped = _element(inner)
        return kind if unwrapped is inner else unwrapped
    if origin in (list, tuple, set, frozenset):
        return _element(get_args(kind)[0])
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(members) == 1:
            return _element(members[0])
    return kind
