"""Rules about services as a whole: unique names, calls to known services, name clashes."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem
from ._resolve import did_you_mean, one_of


def unique_service_names(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Two files may not declare the same service."""
    for spec_file in ecosystem.files:
        first = ecosystem.services[spec_file.name]
        if first is not spec_file:
            yield spec_file.diagnostic(
                ("service",), "E020", f"service `{spec_file.name}` is already declared in {first.path}"
            )
            yield first.diagnostic(
                ("service",), "N001", f"`{spec_file.name}` is first declared here", severity="note"
            )


def calls_known_services(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Every name under `calls:` is a service of the ecosystem (and not the caller)."""
    known = set(ecosystem.services) | ecosystem.rejected
    for spec_file in ecosystem.files:
        for index, callee in enumerate(spec_file.spec.calls):
            if callee == spec_file.name:
                yield spec_file.diagnostic(("calls", index), "E042", f"service `{callee}` calls itself")
            elif callee not in known:
                others = known - {spec_file.name}
                message = f"`calls` names unknown service `{callee}`" + did_you_mean(callee, others)
                yield spec_file.diagnostic(("calls", index), "E042", message, expected=one_of(others))


def distinct_model_and_message_names(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """A model and a message may not share a name (both become classes of the service)."""
    for spec_file in ecosystem.files:
        for name in spec_file.spec.messages:
            if name in spec_file.spec.models:
                yield spec_file.diagnostic(
                    ("messages", name), "E028", f"`{name}` is both a model and a message", key=True
                )


RULES = (unique_service_names, calls_known_services, distinct_model_and_message_names)
