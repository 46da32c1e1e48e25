"""The public surface of `atlas_runtime.state`."""

from __future__ import annotations

import atlas_runtime.state as state


def test_every_exported_name_exists_and_the_list_is_sorted() -> None:
    """`__all__` names only real attributes, sorted, and includes the declared API."""
    assert state.__all__ == sorted(state.__all__)
    for name in state.__all__:
        assert hasattr(state, name), name
    for name in ("StateStore", "connect_state", "IndexSpec", "IdSpec", "UnitOfWork", "StateConflict"):
        assert name in state.__all__


def test_public_classes_are_exported() -> None:
    """Every public class defined in the package's modules is reachable from the package."""
    exported = {getattr(state, name) for name in state.__all__}
    for cls in (state.Registry, state.TTLRegistry, state.CoalescedRegistry, state.ReadThroughCache):
        assert cls in exported
