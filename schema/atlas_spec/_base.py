"""The base class of every spec model: unknown keys are errors, values are immutable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """A node of the spec language. Unknown keys are rejected, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
