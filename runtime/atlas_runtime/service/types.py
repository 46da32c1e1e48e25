"""Bounded integer types of the spec language, as annotated ints for pydantic models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]
UInt16 = Annotated[int, Field(ge=0, le=0xFFFF)]
UInt32 = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
UInt64 = Annotated[int, Field(ge=0, le=0xFFFF_FFFF_FFFF_FFFF)]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]

__all__ = ["Int32", "Int64", "UInt16", "UInt32", "UInt64"]
