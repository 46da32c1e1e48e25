"""The render pipeline: view-models, templates, in-memory formatting, writer and drift check.

Pure core: `render_tree(specs) -> {path: text}`, from the validated `ServiceSpec`s of an
`Ecosystem` (`atlas_gen.loader.load_ecosystem`). I/O shells: `write_tree` (write changed
files, prune stale ones, refuse to clobber edits) and `check` (classified drift and a
unified diff). Names load on first use, so importing a submodule stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atlas_gen.render.drift import Drift, DriftKind, DriftReport, check
    from atlas_gen.render.formatting import FormattingError
    from atlas_gen.render.manifest import MANIFEST_NAME, Manifest
    from atlas_gen.render.pipeline import render_service, render_tree
    from atlas_gen.render.views import ServiceView, build_service
    from atlas_gen.render.writer import HandEditedError, WriteReport, write_tree

_LAZY = {
    "Drift": "drift",
    "DriftKind": "drift",
    "DriftReport": "drift",
    "check": "drift",
    "FormattingError": "formatting",
    "MANIFEST_NAME": "manifest",
    "Manifest": "manifest",
    "render_service": "pipeline",
    "render_tree": "pipeline",
    "ServiceView": "views",
    "build_service": "views",
    "HandEditedError": "writer",
    "WriteReport": "writer",
    "write_tree": "writer",
}

__all__ = [
    "MANIFEST_NAME",
    "Drift",
    "DriftKind",
    "DriftReport",
    "FormattingError",
    "HandEditedError",
    "Manifest",
    "ServiceView",
    "WriteReport",
    "build_service",
    "check",
    "render_service",
    "render_tree",
    "write_tree",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
