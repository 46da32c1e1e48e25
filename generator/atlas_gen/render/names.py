"""Turn spec names into Python identifiers, class names, env var names and k8s names, in one place."""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+|[0-9]+")


def words(name: str) -> list[str]:
    """The words of a name in any case style: `party-status`, `PartyStatus`, `PARTY_STATUS`."""
    return _WORDS.findall(name.replace("-", " ").replace("_", " ").replace(".", " "))


def snake(name: str) -> str:
    """A snake_case identifier, safe as a Python name (a keyword gets a trailing underscore)."""
    ident = "_".join(w.lower() for w in words(name)) or "_"
    if ident[0].isdigit():
        ident = f"_{ident}"
    return f"{ident}_" if keyword.iskeyword(ident) else ident


def pascal(name: str) -> str:
    """A PascalCase class name; PascalCase input is kept as written."""
    if re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
        return name
    return "".join(w[:1].upper() + w[1:].lower() for w in words(name)) or "X"


def upper_snake(name: str) -> str:
    """An UPPER_SNAKE constant or env var name."""
    return "_".join(w.upper() for w in words(name))


def k8s_name(service: str) -> str:
    """The Kubernetes name of a service: `atlas-<service>`."""
    return "atlas-" + service.replace("_", "-")


def service_url_env(service: str) -> str:
    """The env var holding another service's base URL: `<NAME>_SERVICE_URL`."""
    return f"{upper_snake(service)}_SERVICE_URL"


def message_envelope_class(message: str) -> str:
    """The class of a message's envelope fields: `PartyCommand` -> `PartyCommandEnvelope`."""
    return f"{message}Envelope"


def message_type_class(message: str, type_value: str) -> str:
    """The class of one type of a message: `PartyCommand` + `JOIN` -> `PartyCommandJoin`."""
    return message + pascal(type_value.lower())


def message_body_class(message: str, type_value: str) -> str:
    """The body class of one type of a message: `PartyCommandJoinBody`."""
    return f"{message_type_class(message, type_value)}Body"


def message_classes(message: str, type_values: Iterable[str]) -> list[str]:
    """Every class messages.py defines for a message: envelope, and a class and body per type."""
    classes = [message_envelope_class(message)]
    for value in type_values:
        classes += [message_type_class(message, value), message_body_class(message, value)]
    return classes
