"""Paged collection documents: slicing, `meta` and `links`.

`meta` is `{total, page: {number, size, last}}` with `last = ceil(total / size)`,
at least 1. `links` always has self, first and last; prev is left out on page 1
and points at the last page when the request is past the end; next is left out on
the last page and beyond. Link query strings keep every other parameter and are
percent-encoded (`page%5Bnumber%5D=2`).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from atlas_runtime.rest.query import PAGE_NUMBER, PAGE_SIZE, PageParams

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a collection and the size of the whole collection."""

    items: Sequence[T]
    total: int
    params: PageParams

    @property
    def last(self) -> int:
        return max(1, math.ceil(self.total / self.params.size))

    def meta(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "page": {"number": self.params.number, "size": self.params.size, "last": self.last},
        }

    def links(self, path: str, query: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
        """The paging links of this page for a request to `path` with `query`."""
        kept = [(k, v) for k, v in query if k not in (PAGE_NUMBER, PAGE_SIZE)]

        def link(number: int) -> str:
            pairs = [*kept, (PAGE_NUMBER, str(number)), (PAGE_SIZE, str(self.params.size))]
            return f"{path}?{urlencode(pairs)}"

        number = self.params.number
        links = {"self": link(number), "first": link(1), "last": link(self.last)}
        if number > 1:
            links["prev"] = link(min(number - 1, self.last))
        if number < self.last:
            links["next"] = link(number + 1)
        return links


def paginate(items: Sequence[T], params: PageParams) -> Page[T]:
    """The requested page of an in-memory sequence (already in a stable order)."""
    return Page(items[params.offset : params.offset + params.size], len(items), params)


async def paginate_async(items: AsyncIterable[T], params: PageParams) -> Page[T]:
    """The requested page of an async stream; counts the whole stream but keeps only the page."""
    kept: list[T] = []
    total = 0
    end = params.offset + params.size
    async for item in items:
        if params.offset <= total < end:
            kept.append(item)
        total += 1
    return Page(kept, total, params)


def page_of_mapping(document: Mapping[str, Any]) -> tuple[int, int] | None:
    """`(number, last)` from a collection document's meta, or None when it carries none."""
    page = (document.get("meta") or {}).get("page") or {}
    if isinstance(page.get("number"), int) and isinstance(page.get("last"), int):
        return page["number"], page["last"]
    return None
