"""Which keys a mapping of the spec accepts, found by following a path through the models.

Used to suggest a key when an unknown one is found (`indxes` -> `indexes`).
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag

from .source_map import LocPart


def allowed_keys(root: type[BaseModel], loc: Sequence[LocPart]) -> list[str]:
    """The keys accepted by the mapping at `loc` under the model `root` ([] if unknown)."""
    current: Any = root
    for part in loc:
        current = _step(current, part)
        if current is None:
            return []
    model = _model_of(current)
    return list(model.model_fields) if model is not None else []


def _strip(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return [member for member in get_args(annotation) if member is not type(None)]
    return [annotation]


def _tag(annotation: Any) -> str | None:
    if get_origin(annotation) is Annotated:
        for meta in get_args(annotation)[1:]:
            if isinstance(meta, Tag):
                return meta.tag
    return None


def _step(annotation: Any, part: LocPart) -> Any:
    members = _members(_strip(annotation))
    for member in members:
        if _tag(member) == part:
            return member
    for member in members:
        plain = _strip(member)
        if isinstance(plain, type) and issubclass(plain, BaseModel):
            field = plain.model_fields.get(str(part))
            if field is not None:
                return field.annotation
            continue
        origin = get_origin(plain)
        if origin is dict:
            return get_args(plain)[1]
        if origin is list and isinstance(part, int):
            return get_args(plain)[0]
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for member in _members(_strip(annotation)):
        plain = _strip(member)
        if isinstance(plain, type) and issubclass(plain, BaseModel):
            return plain
    return None
