"""The topology of an ecosystem as a picture: services, topics, calls and sagas.

`topology(ecosystem)` is pure: the edges of the graph, sorted, so the output is
deterministic. `mermaid()` and `dot()` write it for Markdown renderers (GitHub, mkdocs)
and Graphviz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .ecosystem import Ecosystem

EdgeKind = Literal["produces", "consumes", "calls"]


@dataclass(frozen=True, order=True)
class Edge:
    """One arrow: a service producing to a topic, a topic consumed by a service, or a call."""

    source: str
    target: str
    kind: EdgeKind
    label: str = ""


@dataclass(frozen=True)
class Topology:
    """Nodes and edges of the ecosystem graph."""

    services: tuple[str, ...]
    topics: tuple[str, ...]
    edges: tuple[Edge, ...]


def topology(ecosystem: Ecosystem) -> Topology:
    """Services, topic tokens and the arrows between them (saga commands and events included)."""
    edges: set[Edge] = set()
    for token, topic in ecosystem.topics.items():
        for use in topic.producers:
            edges.add(Edge(use.service, token, "produces", _label(use.message, use.loc)))
        for use in topic.consumers:
            edges.add(Edge(token, use.service, "consumes", _label(use.message, use.loc)))
    for service, called in ecosystem.calls.items():
        edges.update(Edge(service, target, "calls", "REST") for target in called)
    return Topology(tuple(sorted(ecosystem.services)), tuple(sorted(ecosystem.topics)), tuple(sorted(edges)))


def _label(message: str, loc: tuple[str | int, ...]) -> str:
    return f"{message} (saga {loc[1]})" if loc[0] == "sagas" else message


def _node_id(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


# One line per edge kind; {s} and {t} are the source and target, {label} the message.
_MERMAID_EDGES = {
    "produces": '  svc_{s} -- "{label}" --> topic_{t}',
    "consumes": '  topic_{s} -- "{label}" --> svc_{t}',
    "calls": "  svc_{s} -. REST .-> svc_{t}",
}
_DOT_EDGES = {
    "produces": '  "svc:{s}" -> "topic:{t}" [label="{label}"];',
    "consumes": '  "topic:{s}" -> "svc:{t}" [label="{label}"];',
    "calls": '  "svc:{s}" -> "svc:{t}" [style=dashed, label="REST"];',
}


def mermaid(graph: Topology) -> str:
    """A Mermaid flowchart: services as boxes, topics as stadiums, calls dashed."""
    lines = ["flowchart LR"]
    lines += [f'  svc_{_node_id(s)}["{s}"]' for s in graph.services]
    lines += [f'  topic_{_node_id(t)}(["{t}"])' for t in graph.topics]
    lines += [
        _MERMAID_EDGES[e.kind].format(s=_node_id(e.source), t=_node_id(e.target), label=e.label)
        for e in graph.edges
    ]
    return "\n".join(lines) + "\n"


def dot(graph: Topology) -> str:
    """A Graphviz digraph: services as boxes, topics as ellipses, calls dashed."""
    lines = ["digraph atlas {", "  rankdir=LR;"]
    lines += [f'  "svc:{s}" [label="{s}", shape=box];' for s in graph.services]
    lines += [f'  "topic:{t}" [label="{t}", shape=ellipse];' for t in graph.topics]
    lines += [_DOT_EDGES[e.kind].format(s=e.source, t=e.target, label=e.label) for e in graph.edges]
    return "\n".join([*lines, "}"]) + "\n"
