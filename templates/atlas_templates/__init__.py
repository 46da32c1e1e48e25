"""Templates shipped with atlas-gen.

`SERVICE` holds the jinja2 templates of a generated service; `WORKSPACE` is the copier
template of a new workspace (`copier copy`, later `copier update`).
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

__all__ = ["SERVICE", "WORKSPACE"]

SERVICE: Traversable = files(__name__) / "service"
WORKSPACE: Traversable = files(__name__) / "workspace"
