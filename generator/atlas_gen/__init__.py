"""atlas-gen: render declarative service specs into Python microservices.

`load_ecosystem(specs_dir)` loads and validates a folder of specs and returns
`(Ecosystem | None, diagnostics)`. Heavy modules load on first use, so importing the
package (e.g. for `__version__`) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .diagnostics import Diagnostic
    from .ecosystem import Ecosystem, SpecFile, Topic, TopicUse
    from .loader import load_ecosystem, load_spec_file, load_spec_text

__all__ = [
    "Diagnostic",
    "Ecosystem",
    "SpecFile",
    "Topic",
    "TopicUse",
    "__version__",
    "load_ecosystem",
    "load_spec_file",
    "load_spec_text",
]

_LAZY = {
    "Diagnostic": "diagnostics",
    "Ecosystem": "ecosystem",
    "SpecFile": "ecosystem",
    "Topic": "ecosystem",
    "TopicUse": "ecosystem",
    "load_ecosystem": "loader",
    "load_spec_file": "loader",
    "load_spec_text": "loader",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
