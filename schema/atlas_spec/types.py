"""The type grammar of fields: scalars, `list[T]`, `dict[str, T]`, model names, `T?`.

`parse_type("list[uint32]?")` gives a `TypeRef` tree; `TypeRef.python_annotation()` is
the annotation the generated code uses, and `str(ref)` writes the canonical spelling back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError


@dataclass(frozen=True)
class ScalarType:
    """A built-in scalar: its Python annotation and, for integers, the value range."""

    python: str
    minimum: int | None = None
    maximum: int | None = None


SCALARS: dict[str, ScalarType] = {
    "bool": ScalarType("bool"),
    "int": ScalarType("int", -(2**31), 2**31 - 1),
    "int64": ScalarType("int", -(2**63), 2**63 - 1),
    "uint16": ScalarType("int", 0, 2**16 - 1),
    "uint32": ScalarType("int", 0, 2**32 - 1),
    "uint64": ScalarType("int", 0, 2**64 - 1),
    "float": ScalarType("float"),
    "str": ScalarType("str"),
    "uuid": ScalarType("uuid.UUID"),
    "datetime": ScalarType("datetime.datetime"),
}
INTEGER_SCALARS = frozenset(name for name, scalar in SCALARS.items() if scalar.python == "int")

TypeKind = Literal["scalar", "model", "list", "dict"]
_EXPECTED = (
    "a scalar (bool, int, int64, uint16, uint32, uint64, float, str, uuid, datetime), a model name, "
    "list[T] or dict[str, T], with a trailing ? for optional"
)
_MODEL_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class TypeSyntaxError(ValueError):
    """A type expression does not follow the grammar."""


@dataclass(frozen=True)
class TypeRef:
    """A parsed type expression.

    Attributes:
        kind: `scalar`, `model`, `list` or `dict`.
        name: the scalar or model name (empty for containers).
        item: the element type of a list or the value type of a dict.
        optional: the expression ended with `?` (None allowed, default None).
    """

    kind: TypeKind
    name: str = ""
    item: TypeRef | None = None
    optional: bool = False

    def __str__(self) -> str:
        if self.kind == "list":
            text = f"list[{self.item}]"
        elif self.kind == "dict":
            text = f"dict[str, {self.item}]"
        else:
            text = self.name
        return text + ("?" if self.optional else "")

    @property
    def scalar(self) -> ScalarType | None:
        """The scalar this type names, or None for models and containers."""
        return SCALARS.get(self.name) if self.kind == "scalar" else None

    @property
    def is_integer(self) -> bool:
        """True for the integer scalars (int, int64, uint16, uint32, uint64)."""
        return self.kind == "scalar" and self.name in INTEGER_SCALARS

    def required(self) -> TypeRef:
        """The same type without the optional marker."""
        return TypeRef(self.kind, self.name, self.item, optional=False)

    def python_annotation(self, model_prefix: str = "") -> str:
        """The Python annotation of this type, e.g. `list[int] | None`.

        Args:
            model_prefix: prepended to model names (e.g. `models.`).
        """
        if self.kind == "list":
            assert self.item is not None
            text = f"list[{self.item.python_annotation(model_prefix)}]"
        elif self.kind == "dict":
            assert self.item is not None
            text = f"dict[str, {self.item.python_annotation(model_prefix)}]"
        elif self.kind == "model":
            text = f"{model_prefix}{self.name}"
        else:
            text = SCALARS[self.name].python
        return f"{text} | None" if self.optional else text

    def models(self) -> Iterator[str]:
        """The model names this type refers to, outermost first."""
        if self.kind == "model":
            yield self.name
        elif self.item is not None:
            yield from self.item.models()


class _Parser:
    """A recursive-descent parser over the characters of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> TypeSyntaxError:
        return TypeSyntaxError(f"`{self.text}` is not a type: {reason} at character {self.pos + 1}")

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_spaces()
        if not self.text.startswith(char, self.pos):
            raise self.fail(f"expected `{char}`")
        self.pos += 1

    def word(self) -> str:
        self.skip_spaces()
        match = re.compile(r"[A-Za-z_][A-Za-z0-9_]*").match(self.text, self.pos)
        if match is None:
            raise self.fail("expected a type name")
        self.pos = match.end()
        return match.group()

    def parse_type(self) -> TypeRef:
        name = self.word()
        if name in ("list", "dict"):
            ref = self.parse_container(name)
        elif name in SCALARS:
            ref = TypeRef("scalar", name)
        elif _MODEL_NAME.match(name):
            ref = TypeRef("model", name)
        else:
            raise self.fail(f"unknown type `{name}` (models are PascalCase)")
        self.skip_spaces()
        if self.text.startswith("?", self.pos):
            self.pos += 1
            ref = TypeRef(ref.kind, ref.name, ref.item, optional=True)
        return ref

    def parse_container(self, name: Literal["list", "dict"] | str) -> TypeRef:
        self.expect("[")
        if name == "dict":
            key = self.word()
            if key != "str":
                raise self.fail("dict keys must be `str`")
            self.expect(",")
        item = self.parse_type()
        self.expect("]")
        return TypeRef("list" if name == "list" else "dict", item=item)

    def parse(self) -> TypeRef:
        ref = self.parse_type()
        self.skip_spaces()
        if self.pos != len(self.text):
            raise self.fail("unexpected text")
        return ref


def parse_type(text: str) -> TypeRef:
    """Parse a type expression.

    Args:
        text: e.g. `uint32`, `list[Member]`, `dict[str, int]?`.

    Raises:
        TypeSyntaxError: the text does not follow the grammar.
    """
    return _Parser(text).parse()


def _validate_type(value: Any) -> TypeRef:
    if isinstance(value, TypeRef):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "bad_type", "`{value}` is not a type expression", {"value": value, "expected": _EXPECTED}
        )
    try:
        return parse_type(value)
    except TypeSyntaxError as error:
        raise PydanticCustomError(
            "bad_type", "{reason}", {"reason": str(error), "expected": _EXPECTED}
        ) from None


TypeExpr = Annotated[
    TypeRef,
    PlainValidator(_validate_type),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[A-Za-z][A-Za-z0-9_\[\], ]*\??$",
            "description": "bool, int, int64, uint16, uint32, uint64, float, str, uuid, datetime, a model "
            "name, list[T], dict[str, T]; a trailing ? makes it optional",
        }
    ),
]
"""A field type written as a string in the spec, a `TypeRef` in Python."""
