"""Rules about services as a whole: unique names, calls to known services, name clashes."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem
from ..render.names import message_classes
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


# Names generated modules bind besides the spec's models and messages: their imports
# (models.py, messages.py) and protocols.py's own protocols. A model or message of the same
# name would be shadowed by them, or shadow them.
GENERATED_NAMES = frozenset(
    {
        *("Annotated", "Any", "AbstractAsyncContextManager", "Awaitable", "Callable", "Literal"),
        *("Protocol", "Field", "TypeAdapter", "UUID", "WireModel", "CamelWireModel", "ServiceClient"),
        *("Int32", "Int64", "UInt16", "UInt32", "UInt64"),
        *("BaseContext", "Registry", "TTLRegistry", "CoalescedRegistry", "Request"),
        *("Context", "State", "Locks", "Calls"),
    }
)


def distinct_class_names(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Models, messages and the classes generated for them all have names of their own."""
    for spec_file in ecosystem.files:
        spec = spec_file.spec
        for section, names in (("models", spec.models), ("messages", spec.messages)):
            for name in names:
                if name in GENERATED_NAMES:
                    message = f"`{name}` is a name the generated code uses itself; rename the {section[:-1]}"
                    yield spec_file.diagnostic((section, name), "E028", message, key=True)
        for name in spec.messages:
            if name in spec.models:
                yield spec_file.diagnostic(
                    ("messages", name), "E028", f"`{name}` is both a model and a message", key=True
                )
        for message_name, declared in spec.messages.items():
            for cls in message_classes(message_name, declared.types):
                if cls in spec.models:
                    text = f"model `{cls}` is named like a class generated for message `{message_name}`"
                    yield spec_file.diagnostic(("models", cls), "E028", text, key=True)


RULES = (unique_service_names, calls_known_services, distinct_class_names)
