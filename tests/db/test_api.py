"""The public surface of atlas_runtime.db."""

from __future__ import annotations

import inspect

import atlas_runtime.db as db


def test_all_lists_every_public_name_once_and_each_resolves() -> None:
    """`__all__` names every public object once, and each listed name exists."""
    assert len(db.__all__) == len(set(db.__all__))
    assert all(hasattr(db, name) for name in db.__all__)
    public = {
        name for name, value in vars(db).items() if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert public - {"annotations"} <= set(db.__all__)


def test_public_callables_are_documented() -> None:
    """Every exported class and function carries a docstring."""
    undocumented = [
        name
        for name in db.__all__
        if (inspect.isclass(getattr(db, name)) or inspect.isfunction(getattr(db, name)))
        and not inspect.getdoc(getattr(db, name))
    ]
    assert undocumented == []
