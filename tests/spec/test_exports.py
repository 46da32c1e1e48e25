"""The public surface of the spec packages is explicit and importable."""

from __future__ import annotations

import atlas_gen
import atlas_spec


def test_atlas_spec_all_lists_exactly_its_public_names() -> None:
    """`atlas_spec.__all__` has no duplicates and names only attributes it exports."""
    assert len(set(atlas_spec.__all__)) == len(atlas_spec.__all__)
    for name in atlas_spec.__all__:
        assert hasattr(atlas_spec, name), name


def test_atlas_gen_exports_the_loading_entry_points_lazily() -> None:
    """`atlas_gen` exposes `load_ecosystem` and the ecosystem types on first use."""
    for name in atlas_gen.__all__:
        assert getattr(atlas_gen, name) is not None, name
    assert callable(atlas_gen.load_ecosystem)


MODULES = (
    "atlas_gen.ecosystem",
    "atlas_gen.validate",
    "atlas_gen.loader",
    "atlas_gen.loader.yaml_source",
    "atlas_gen.loader.source_map",
    "atlas_gen.diagnostics",
    "atlas_gen.cli",
    "atlas_spec.service",
)


def test_every_module_imports_first() -> None:
    """Each module imports cleanly when it is the first one of its package to load (no cycles)."""
    import importlib
    import sys

    saved = {
        name: module for name, module in sys.modules.items() if name.startswith(("atlas_gen", "atlas_spec"))
    }
    try:
        for name in MODULES:
            for loaded in [key for key in sys.modules if key.startswith(("atlas_gen", "atlas_spec"))]:
                del sys.modules[loaded]
            importlib.import_module(name)
    finally:
        for loaded in [key for key in sys.modules if key.startswith(("atlas_gen", "atlas_spec"))]:
            del sys.modules[loaded]
        sys.modules.update(saved)
