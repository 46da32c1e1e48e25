"""Pydantic validation errors to located, readable diagnostics."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from atlas_spec import ServiceSpec
from atlas_spec.endpoints import OPERATION_KEYS

from ..diagnostics import Diagnostic
from .allowed_keys import allowed_keys
from .source_map import LocPart, Position, SourceMap

_CUSTOM_CODES = {
    "bad_duration": "E014",
    "bad_type": "E015",
    "bad_name": "E016",
    "bad_path": "E016",
    "bad_handler_ref": "E017",
}
_EXPECTED_KIND = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}
_VALUE_ERRORS = (
    "literal_error",
    "enum",
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_pattern_mismatch",
    "string_too_short",
    "bad_operation",
    "bad_compensation",
)
_OPERATION_EXPECTED = (
    "`{get: <registry>}`, `{list: <registry>}`, `{remove: <registry>}` or `{handler: module:function}`"
)


def schema_diagnostics(error: ValidationError, file: str, source: SourceMap) -> list[Diagnostic]:
    """One diagnostic per pydantic error, located in the YAML source."""
    return [_diagnostic(details, file, source) for details in error.errors(include_url=False)]


def suggest(word: str, choices: Sequence[str]) -> str | None:
    """The closest choice to a misspelt word, if one is close enough."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _visible(loc: Sequence[LocPart], source: SourceMap) -> str:
    # Pydantic inserts union tags and markers; show the parts that are real keys (and the
    # last part, which may name a key that is missing or implied by a shorthand).
    kept = _real_loc(loc, source)
    if loc and (not kept or kept[-1] != loc[-1]) and isinstance(loc[-1], str) and loc[-1] != "[key]":
        kept.append(loc[-1])
    return ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in kept).replace(".[", "[")


def _real_loc(loc: Sequence[LocPart], source: SourceMap) -> list[LocPart]:
    kept: list[LocPart] = []
    for part in loc:
        if source.exists([*kept, part]):
            kept.append(part)
    return kept


def _diagnostic(details: ErrorDetails, file: str, source: SourceMap) -> Diagnostic:
    kind = details["type"]
    loc = list(details["loc"])
    ctx: dict[str, Any] = dict(details.get("ctx") or {})
    if kind == "extra_forbidden":
        return _unknown_key(loc, file, source)
    if kind == "missing":
        where = _visible(loc[:-1], source)
        position = source.owner(_real_loc(loc[:-1], source))
        inside = f" in `{where}`" if where else ""
        return _at(file, position, "E011", f"missing required key `{loc[-1]}`{inside}")
    key_error = bool(loc) and loc[-1] == "[key]"
    position = source.locate(loc)
    path = _visible([part for part in loc if part != "[key]"], source)
    if kind in _CUSTOM_CODES:
        return _at(file, position, _CUSTOM_CODES[kind], details["msg"], ctx.get("expected"))
    if kind in _EXPECTED_KIND:
        what = "key" if key_error else f"`{path}`"
        message = f"{what} must be {_EXPECTED_KIND[kind]}, not {_describe(details['input'])}"
        return _at(file, position, "E012", message, _EXPECTED_KIND[kind])
    if kind in _VALUE_ERRORS:
        return _bad_value(details, path, file, position, key_error)
    return _at(file, position, "E013", f"`{path}`: {_lower_first(details['msg'])}")


def _unknown_key(loc: list[LocPart], file: str, source: SourceMap) -> Diagnostic:
    name = str(loc[-1])
    keys = allowed_keys(ServiceSpec, loc[:-1])
    where = _visible(loc[:-1], source)
    message = f"unknown key `{name}`" + (f" in `{where}`" if where else "")
    close = suggest(name, keys)
    if close:
        message += f"; did you mean `{close}`?"
    expected = "one of " + ", ".join(f"`{key}`" for key in keys) if keys else None
    return _at(file, source.locate(loc, key=True), "E010", message, expected)


def _bad_value(
    details: ErrorDetails, path: str, file: str, position: Position, key_error: bool
) -> Diagnostic:
    kind = details["type"]
    ctx: dict[str, Any] = dict(details.get("ctx") or {})
    value = details["input"]
    if kind == "bad_operation":
        message = f"`{path}`: {details['msg']}"
        stray = [key for key in value if key not in OPERATION_KEYS] if isinstance(value, dict) else []
        close = suggest(str(stray[0]), OPERATION_KEYS) if stray else None
        if close:
            message += f"; did you mean `{close}` instead of `{stray[0]}`?"
        return _at(file, position, "E013", message, _OPERATION_EXPECTED)
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        what = f"key in `{path.rpartition('.')[0]}`" if key_error else f"value of `{path}`"
        message = f"`{value}` is not a valid {what}"
        close = suggest(str(value), options)
        if close:
            message += f"; did you mean `{close}`?"
        return _at(
            file, position, "E013", message, "one of " + ", ".join(f"`{option}`" for option in options)
        )
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        return _at(
            file, position, "E013", f"`{path}` needs at least {least} {'entry' if least == 1 else 'entries'}"
        )
    return _at(file, position, "E013", f"`{path}`: {_lower_first(details['msg'])}", ctx.get("expected"))


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean `{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"the number `{value}`"
    if isinstance(value, str):
        return f"the string `{value}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null (nothing)"
    return f"`{value}`"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _at(file: str, position: Position, code: str, message: str, expected: str | None = None) -> Diagnostic:
    return Diagnostic(file, position.line, position.column, "error", code, message, expected)
