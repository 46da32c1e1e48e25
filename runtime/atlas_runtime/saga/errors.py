"""Errors of the saga orchestrator, under the runtime's `AtlasError` root.

AtlasError
├── VersionConflictError   an optimistic write lost to a concurrent writer (re-read, retry)
├── UnknownSagaType        a saga type no definition declares (ValueError)
└── CommandBuildError      a step's command cannot be built from the saga's data (ValueError)
"""

from __future__ import annotations

import uuid

from atlas_runtime.errors import AtlasError


class VersionConflictError(AtlasError):
    """`UPDATE ... WHERE id = :id AND version = :v` changed no row: someone else wrote first."""

    def __init__(self, saga_id: uuid.UUID, version: int) -> None:
        super().__init__(f"saga {saga_id} is no longer at version {version}; re-read it and retry")
        self.saga_id = saga_id
        self.version = version


class UnknownSagaType(AtlasError, ValueError):
    """A saga type that no definition of this orchestrator declares."""

    def __init__(self, saga_type: str, known: list[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown saga type {saga_type!r}; this orchestrator runs: {names}")
        self.saga_type = saga_type


class CommandBuildError(AtlasError, ValueError):
    """A command field has no value: neither `set:` nor the saga's data provides it."""
