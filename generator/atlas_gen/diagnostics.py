"""Diagnostics: located errors, warnings and notes about specs, kept as data.

A diagnostic is printed only at the edge (the CLI) as
`path/to/spec.yaml:LINE:COL: error[CODE]: message (expected ...)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "note"]

# Stable codes: documented in docs/cli.md. Never reuse a retired code.
CODES: dict[str, str] = {
    "E001": "yaml-syntax",
    "E002": "empty-file",
    "E003": "tab-indentation",
    "E004": "flow-brackets",
    "E005": "duplicate-key",
    "E006": "not-a-mapping",
    "E007": "undefined-alias",
    "E008": "unreadable-file",
    "E010": "unknown-key",
    "E011": "missing-key",
    "E012": "wrong-type",
    "E013": "bad-value",
    "E014": "bad-duration",
    "E015": "bad-type",
    "E016": "bad-name",
    "E017": "bad-handler-ref",
    "E020": "duplicate-service",
    "E021": "unknown-model",
    "E022": "unknown-message",
    "E023": "unknown-registry",
    "E024": "unknown-index",
    "E025": "unknown-lock",
    "E026": "unknown-field",
    "E027": "unknown-message-type",
    "E028": "name-clash",
    "E029": "bad-default",
    "E030": "path-parameter",
    "E031": "path-parameter-type",
    "E032": "bad-registry",
    "E033": "bad-index",
    "E040": "incompatible-message",
    "E041": "outbox-without-database",
    "E042": "unknown-service",
    "E043": "bad-table",
    "E044": "bad-pool",
    "E050": "unknown-topic",
    "E051": "saga-step-incomplete",
    "E052": "saga-reference",
    "W101": "topic-not-produced",
    "W102": "topic-not-consumed",
    "W103": "saga-step-not-compensable",
    "N001": "see-also",
}


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a spec, at a position in a file (line and column from 1).

    Attributes:
        file: the spec file as given on the command line (relative when possible).
        line: 1-based line.
        column: 1-based column.
        severity: `error` fails validation; `warning` and `note` do not.
        code: stable code, e.g. `E010` (see `CODES`).
        message: what is wrong, naming the offending value.
        expected: what would be right, when that can be said.
    """

    file: str
    line: int
    column: int
    severity: Severity
    code: str
    message: str
    expected: str | None = None

    def format(self) -> str:
        """The one-line text form: `file:line:col: severity[code]: message (expected ...)`."""
        text = f"{self.file}:{self.line}:{self.column}: {self.severity}[{self.code}]: {self.message}"
        return f"{text} (expected {self.expected})" if self.expected else text

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with the keys file, line, column, severity, code, message, expected."""
        return asdict(self)

    @property
    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file, self.line, self.column, self.code, self.message)


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Order by file and position, dropping exact duplicates."""
    return sorted(set(diagnostics), key=lambda diagnostic: diagnostic.sort_key)


def count(diagnostics: Iterable[Diagnostic], severity: Severity) -> int:
    """How many diagnostics have the given severity."""
    return sum(1 for diagnostic in diagnostics if diagnostic.severity == severity)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when at least one diagnostic is an error."""
    return any(diagnostic.severity == "error" for diagnostic in diagnostics)


def diagnostics_document(diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The JSON document of `validate --format json`: the diagnostics and the counts."""
    return {
        "diagnostics": [diagnostic.to_dict() for diagnostic in diagnostics],
        "errors": count(diagnostics, "error"),
        "warnings": count(diagnostics, "warning"),
    }
