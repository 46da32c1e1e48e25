"""Resolve `module:function` handler references, with errors that point at the spec."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from atlas_runtime.errors import ConfigurationError


def resolve(ref: str, *, where: str) -> Callable[..., Any]:
    """Import the async function a spec names.

    Args:
        ref: `package.module:function`.
        where: what references it, e.g. `consumes COMMAND_TOPIC_PARTY CREATE` (for the error).

    Raises:
        ConfigurationError: the module or function does not exist, or is not `async def`.
    """
    module_name, _, function_name = ref.partition(":")
    if not module_name or not function_name:
        raise ConfigurationError(f"{where}: handler {ref!r} is not `module:function`")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ConfigurationError(
            f"{where}: handler module {module_name!r} cannot be imported ({error}); "
            "run from the folder holding it, add it to PYTHONPATH, or create it with `atlas-gen scaffold`"
        ) from error
    function = getattr(module, function_name, None)
    if function is None:
        raise ConfigurationError(
            f"{where}: module {module_name!r} has no function {function_name!r}; "
            "`atlas-gen scaffold` writes a stub"
        )
    if not (inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)):
        raise ConfigurationError(f"{where}: handler {ref!r} must be an `async def` function")
    return function  # type: ignore[no-any-return]
