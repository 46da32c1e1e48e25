"""The jinja environment of the service templates (package data of `atlas_templates`)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import jinja2

TEMPLATE_PACKAGE = "atlas_templates"
SERVICE_FOLDER = "service"
SUFFIX = ".jinja"


def _pyrepr(value: Any) -> str:
    """A Python literal of a plain value (strings, numbers, booleans, None)."""
    return repr(value)


@cache
def environment() -> jinja2.Environment:
    """The shared environment: strict undefined, trimmed blocks, trailing newlines kept."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, SERVICE_FOLDER),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = _pyrepr
    return env


@cache
def service_templates() -> tuple[str, ...]:
    """Template names of a service, relative to the service folder, sorted."""
    root = resources.files(TEMPLATE_PACKAGE).joinpath(SERVICE_FOLDER)
    names: list[str] = []
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.name.startswith(("_", ".")):
                pending.append((entry, f"{prefix}{entry.name}/"))
            elif entry.name.endswith(SUFFIX):
                names.append(prefix + entry.name)
    return tuple(sorted(names))
