"""Ecosystem validation: plain rule functions `(ecosystem) -> Iterable[Diagnostic]`.

One module per spec feature; `RULES` lists them all in a stable order. A rule reports
what it can check and skips what an earlier rule already reported (an unknown model is
reported once, not again by every rule that looks inside it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem
from . import database, endpoints, graph, models, sagas, services, state, topics

Rule = Callable[[Ecosystem], Iterable[Diagnostic]]

RULES: tuple[Rule, ...] = (
    *services.RULES,
    *models.RULES,
    *state.RULES,
    *topics.RULES,
    *graph.RULES,
    *endpoints.RULES,
    *database.RULES,
    *sagas.RULES,
)

__all__ = ["RULES", "Rule", "validate_ecosystem"]


def validate_ecosystem(ecosystem: Ecosystem, rules: Iterable[Rule] = RULES) -> list[Diagnostic]:
    """Run every rule over the ecosystem and collect what they report."""
    return [diagnostic for rule in rules for diagnostic in rule(ecosystem)]
