"""Generated models enforce each integer type's range and the spec's `min`/`max` on top of it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from atlas_runtime.service import ServiceDescription

SPEC = """
service: bounded
models:
  Deposit:
    amount: {type: int64, min: 1}
    color: {type: uint16, max: 255, default: 3, description: a palette index}
    slot: {type: uint32?, min: 5}
    step: int
    ratio: {type: float, min: 0, max: 1, default: 0.5}
messages:
  Cmd:
    fields: {actor_id: {type: uint32, min: 1}}
    types:
      MOVE: {dx: {type: int, min: -5, max: 5}}
"""


@pytest.fixture
def models(build_service: Callable[[str, dict[str, str]], ServiceDescription]) -> Any:
    """The rendered `models` module (its `messages` module imported alongside)."""
    build_service(SPEC, {})
    return importlib.import_module("atlas_bounded.models")


@pytest.mark.parametrize(
    "fields",
    [
        {"amount": 0},  # below min, inside int64
        {"color": 256},  # above max, inside uint16
        {"color": -1},  # below the type's own range
        {"slot": 4},
        {"step": 2**31},  # int is 32-bit
        {"ratio": 1.5},
    ],
)
def test_a_value_outside_its_bounds_is_rejected(models: Any, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        models.Deposit(**{"amount": 1, "step": 0, **fields})


def test_values_inside_the_bounds_and_defaults_are_accepted(models: Any) -> None:
    deposit = models.Deposit(amount=2**63 - 1, color=255, slot=None, step=-(2**31))
    assert (deposit.color, deposit.slot, deposit.ratio) == (255, None, 0.5)
    assert models.Deposit(amount=1, step=0).color == 3
    assert models.Deposit.model_fields["color"].description == "a palette index"


def test_message_fields_are_bounded(models: Any) -> None:
    adapter = importlib.import_module("atlas_bounded.messages").CMD
    assert adapter.validate_python({"type": "MOVE", "actor_id": 1, "body": {"dx": 5}}).body.dx == 5
    for bad in ({"actor_id": 0, "body": {"dx": 0}}, {"actor_id": 1, "body": {"dx": 6}}):
        with pytest.raises(ValidationError):
            adapter.validate_python({"type": "MOVE", **bad})
