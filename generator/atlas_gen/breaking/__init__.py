"""Breaking changes between two versions of a specs folder, found before a deploy.

`breaking_changes(old, new)` runs every rule of `RULES` over the two ecosystems. A rule is
a pure function `(old, new) -> Iterable[Diagnostic]`. Findings are located in the new
spec: at the changed node, or for something removed at its nearest parent still written
(a removed service is reported in its old file). Errors break what already runs: the
consumers and producers of a topic during a rolling deploy, messages still in a topic,
values stored in Redis, rows in the database, callers of an endpoint. Warnings are risky:
data or work is lost silently.

Compatibility is judged from the reader's side, as the runtime decodes: fields it does
not declare are ignored, a field it declares without a default must be sent, with a type
it accepts (the same structure, models compared field by field as `validate/_resolve.shape`
spells them; a reader may widen a type to optional `T?`), and a message type without a
handler is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..diagnostics import Diagnostic, sort_diagnostics
from ..ecosystem import Ecosystem
from .common import BREAKING_CODES, RISKY, BreakingRule, accepts, field_gaps
from .endpoints import endpoint_scopes, endpoints_kept, path_parameters_kept, request_bodies, responses
from .messages import consumed_messages, produced_messages, topics_still_produced
from .sagas import sagas
from .services import consumer_group_kept, services_kept, wire_case_kept
from .state import registries
from .tables import tables

__all__ = ["BREAKING_CODES", "RISKY", "RULES", "BreakingRule", "accepts", "breaking_changes", "field_gaps"]

RULES: tuple[BreakingRule, ...] = (
    services_kept,
    wire_case_kept,
    consumer_group_kept,
    produced_messages,
    consumed_messages,
    topics_still_produced,
    registries,
    tables,
    endpoints_kept,
    path_parameters_kept,
    request_bodies,
    responses,
    endpoint_scopes,
    sagas,
)


def breaking_changes(
    old: Ecosystem, new: Ecosystem, rules: Iterable[BreakingRule] = RULES
) -> list[Diagnostic]:
    """Run every rule over the two versions; the findings sorted by file and position."""
    return sort_diagnostics(diagnostic for rule in rules for diagnostic in rule(old, new))
