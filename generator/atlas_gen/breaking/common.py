"""Shared pieces of the breaking-change rules: codes, locating findings, comparing fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from atlas_spec import FieldSpec, ServiceSpec, TypeRef
from atlas_spec.types import SCALARS

from ..diagnostics import Diagnostic, Severity
from ..ecosystem import Ecosystem, SpecFile
from ..validate._resolve import shape

Loc = tuple[str | int, ...]
BreakingRule = Callable[[Ecosystem, Ecosystem], Iterable[Diagnostic]]

# Stable codes: documented in docs/cli.md (`atlas-gen breaking`). Never reuse a retired code.
BREAKING_CODES: dict[str, str] = {
    "B001": "message-type-removed",
    "B002": "message-field-removed",
    "B003": "message-field-type",
    "B004": "message-field-required",
    "B005": "message-type-unread",
    "B006": "topic-no-longer-produced",
    "B010": "registry-key-type",
    "B011": "registry-removed",
    "B012": "registry-kind",
    "B013": "registry-scope",
    "B014": "stored-field-required",
    "B015": "stored-field-type",
    "B016": "stored-field-removed",
    "B020": "column-type",
    "B021": "column-required",
    "B022": "column-removed",
    "B023": "table-removed",
    "B024": "primary-key",
    "B030": "endpoint-removed",
    "B031": "path-parameter-type",
    "B032": "body-field-required",
    "B033": "body-field-type",
    "B034": "response-field",
    "B035": "endpoint-scopes",
    "B040": "service-removed",
    "B041": "wire-case",
    "B042": "consumer-group",
    "B050": "saga-removed",
    "B051": "saga-step-removed",
    "B052": "saga-steps-changed",
}
RISKY = frozenset(
    {"B005", "B006", "B011", "B016", "B022", "B023", "B035", "B040", "B042", "B050", "B051", "B052"}
)
"""The codes reported as warnings (risky); every other code is an error (breaking)."""

OPTIONAL = "a default or an optional type (`T?`)"


def written(file: SpecFile, loc: Loc) -> Loc:
    """`loc`, or its longest prefix written in the file (a removed node's nearest parent)."""
    for end in range(len(loc), 0, -1):
        if file.source.exists(loc[:end]):
            return loc[:end]
    return ()


def finding(
    file: SpecFile, loc: Loc, code: str, message: str, *, value: bool = False, expected: str | None = None
) -> Diagnostic:
    """A finding of `code` at the key of `loc` (its value when `value`), or at its nearest written parent."""
    where = written(file, loc)
    severity: Severity = "warning" if code in RISKY else "error"
    key = where != loc or not value
    return file.diagnostic(where, code, message, expected=expected, severity=severity, key=key)


def type_loc(file: SpecFile, loc: Loc) -> Loc:
    """Where the type of the field at `loc` is written (`{type: ...}` or the shorthand)."""
    return (*loc, "type") if file.source.exists((*loc, "type")) else loc


Typed = tuple[ServiceSpec, TypeRef]
GapKind = Literal["missing", "type", "dropped"]


@dataclass(frozen=True)
class Fields:
    """One side of a comparison: the fields, and the spec resolving their models.

    Attributes:
        spec: the spec declaring the fields.
        fields: name -> field.
        defaults_sent: a writer sends every field it declares (a serialised model); false
            when a field with a default may be left out (callers of an endpoint, or a
            reader standing in for writers nobody here declares).
    """

    spec: ServiceSpec
    fields: Mapping[str, FieldSpec]
    defaults_sent: bool = True


@dataclass(frozen=True)
class Gap:
    """Why a reader cannot decode one field of what a writer sends.

    `missing`: the reader needs it and it may not be sent; `type`: the reader does not
    accept the type sent; `dropped`: the writer sends it and the reader ignores it.
    """

    kind: GapKind
    name: str
    read: FieldSpec | None
    sent: FieldSpec | None


def accepts(reader: Typed, sender: Typed, seen: frozenset[tuple[str, str]] = frozenset()) -> bool:
    """True when every value of the sender's type decodes as the reader's type."""
    (read_spec, read), (sent_spec, sent) = reader, sender
    if (sent.optional and not read.optional) or read.kind != sent.kind:
        return False
    if read.kind == "scalar":
        return read.name == sent.name or _widens(read.name, sent.name)
    if read.kind == "model":
        return _model_accepts(reader, sender, seen)
    if read.item is None or sent.item is None:
        return read.item == sent.item
    return accepts((read_spec, read.item), (sent_spec, sent.item), seen)


def _widens(read: str, sent: str) -> bool:
    """An integer scalar whose range holds every value of the other (`uint16` read as `uint32`)."""
    wide, narrow = SCALARS[read], SCALARS[sent]
    if wide.python != "int" or narrow.python != "int":
        return False
    assert wide.minimum is not None and wide.maximum is not None
    assert narrow.minimum is not None and narrow.maximum is not None
    return wide.minimum <= narrow.minimum and narrow.maximum <= wide.maximum


def _model_accepts(reader: Typed, sender: Typed, seen: frozenset[tuple[str, str]]) -> bool:
    (read_spec, read), (sent_spec, sent) = reader, sender
    pair = (read.name, sent.name)
    read_fields, sent_fields = read_spec.models.get(read.name), sent_spec.models.get(sent.name)
    if pair in seen or read_fields is None or sent_fields is None:
        return pair in seen or read.name == sent.name
    gaps = field_gaps(Fields(read_spec, read_fields), Fields(sent_spec, sent_fields), seen | {pair})
    return all(gap.kind == "dropped" for gap in gaps)


def field_gaps(
    reader: Fields, sender: Fields, seen: frozenset[tuple[str, str]] = frozenset()
) -> Iterator[Gap]:
    """Why `reader` cannot decode what `sender` writes, field by field (reader order, then dropped)."""
    for name, read in reader.fields.items():
        sent = sender.fields.get(name)
        absent = sent is None or (not sender.defaults_sent and sent.has_default)
        if absent and not read.has_default:
            yield Gap("missing", name, read, sent)
            continue
        if sent is not None and not accepts((reader.spec, read.type), (sender.spec, sent.type), seen):
            yield Gap("type", name, read, sent)
    for name in sorted(sender.fields.keys() - reader.fields.keys()):
        yield Gap("dropped", name, None, sender.fields[name])


def spelled(typed: Typed, other: Typed) -> str:
    """A type as declared, or structurally when both declared spellings are the same."""
    if str(typed[1]) == str(other[1]):
        return shape(*typed)
    return str(typed[1])


def pairs(old: Ecosystem, new: Ecosystem) -> Iterator[tuple[SpecFile, SpecFile]]:
    """The services in both versions, by name: (old file, new file)."""
    for name in sorted(old.services.keys() & new.services.keys()):
        yield old.services[name], new.services[name]
