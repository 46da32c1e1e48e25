"""The type grammar and durations of the spec language."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_spec import DurationError, TypeRef, TypeSyntaxError, format_duration, parse_duration, parse_type


@pytest.mark.parametrize(
    ("text", "canonical", "annotation"),
    [
        ("bool", "bool", "bool"),
        ("uint32", "uint32", "int"),
        ("int64?", "int64?", "int | None"),
        ("uuid", "uuid", "uuid.UUID"),
        ("datetime?", "datetime?", "datetime.datetime | None"),
        ("list[uint32]", "list[uint32]", "list[int]"),
        ("list[ Member ]", "list[Member]", "list[models.Member]"),
        ("dict[str, float]", "dict[str, float]", "dict[str, float]"),
        ("dict[str,list[Stat?]]?", "dict[str, list[Stat?]]?", "dict[str, list[models.Stat | None]] | None"),
    ],
)
def test_type_parses_to_canonical_form_and_annotation(text: str, canonical: str, annotation: str) -> None:
    """A type expression parses to a tree that writes back canonically and as Python."""
    ref = parse_type(text)
    assert str(ref) == canonical
    assert ref.python_annotation(model_prefix="models.") == annotation
    assert parse_type(str(ref)) == ref


def test_type_tree_exposes_kind_item_and_models() -> None:
    """The parsed tree names its kind, element type, optionality and referenced models."""
    ref = parse_type("list[dict[str, Party]]?")
    assert ref.kind == "list" and ref.optional
    assert ref.item == TypeRef("dict", item=TypeRef("model", "Party"))
    assert list(ref.models()) == ["Party"]
    assert ref.required() == TypeRef("list", item=ref.item)


def test_integer_scalars_carry_their_ranges() -> None:
    """Integer scalars know their bounds; other types have none."""
    uint16 = parse_type("uint16")
    assert uint16.is_integer and uint16.scalar is not None
    assert (uint16.scalar.minimum, uint16.scalar.maximum) == (0, 65535)
    assert parse_type("uint64").scalar.maximum == 2**64 - 1  # type: ignore[union-attr]
    assert not parse_type("float").is_integer
    assert parse_type("Party").scalar is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected a type name"),
        ("lst[int]", "unknown type `lst`"),
        ("party", "unknown type `party`"),
        ("list[int", "expected `]`"),
        ("list int", "expected `[`"),
        ("dict[int, str]", "dict keys must be `str`"),
        ("dict[str int]", "expected `,`"),
        ("str??", "unexpected text"),
        ("int]", "unexpected text"),
    ],
)
def test_bad_type_is_rejected_with_reason(text: str, reason: str) -> None:
    """A malformed type expression raises TypeSyntaxError saying what is wrong."""
    with pytest.raises(TypeSyntaxError, match=reason.replace("[", r"\[").replace("]", r"\]")):
        parse_type(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("30s", timedelta(seconds=30)),
        ("1.5s", timedelta(milliseconds=1500)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
    ],
)
def test_duration_parses(text: str, expected: timedelta) -> None:
    """Durations with ms, s, m, h and d units parse to timedeltas."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "5 seconds", "1w", "-1s", "0s", "s", "1.s"])
def test_bad_duration_is_rejected(text: str) -> None:
    """Durations without a unit, with an unknown unit, or not positive are rejected."""
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=2), "2d"),
        (timedelta(seconds=90), "90s"),
        (timedelta(milliseconds=1500), "1500ms"),
        (timedelta(hours=1), "1h"),
    ],
)
def test_duration_formats_in_largest_exact_unit(value: timedelta, text: str) -> None:
    """A duration is written back in the largest unit that represents it exactly."""
    assert format_duration(value) == text
    assert parse_duration(text) == value
