"""Errors of the state layer, all under the runtime's `AtlasError`.

AtlasError
├── StateDecodeError (ValueError)     a stored value does not decode as the registry's type
├── StateConflict                     a unit of work saw a concurrent write; re-run the handler
├── IdRangeExhausted (OverflowError)  an id counter went past the key type's range
└── LockLost                          a lock's lease expired or was taken while held
"""

from __future__ import annotations

from atlas_runtime.errors import AtlasError


class StateDecodeError(AtlasError, ValueError):
    """A stored value could not be decoded as the registry's value type."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        super().__init__(f"value at Redis key {key!r} does not decode: {reason}")


class StateConflict(AtlasError):
    """A key read inside a unit of work changed before it committed; run the work again."""

    def __init__(self, detail: str = "a watched key changed before commit") -> None:
        super().__init__(f"state conflict: {detail}; run the handler again")


class IdRangeExhausted(AtlasError, OverflowError):
    """An id counter passed the largest value its key type can hold."""

    def __init__(self, key: str, value: int, maximum: int) -> None:
        self.key = key
        self.value = value
        self.maximum = maximum
        super().__init__(
            f"id counter {key!r} reached {value}, past the key type's maximum {maximum}; "
            "ids are never wrapped: widen the key type or reset the counter deliberately"
        )


class LockLost(AtlasError):
    """The lease of a held lock expired or was taken by another holder before release."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"the lease on lock {key!r} was lost while held; the guarded work may have overlapped"
        )
