"""Positions of every key and value of a YAML document, found by a path of keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

LocPart = str | int
Loc = Sequence[LocPart]


@dataclass(frozen=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


def node_position(node: Node) -> Position:
    """Where a node starts."""
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


def key_text(node: Node) -> str:
    """The text of a mapping key as the path element that names it."""
    return str(node.value) if isinstance(node, ScalarNode) else f"<{type(node).__name__}>"


class SourceMap:
    """Resolves a path like `("state", "parties", "ttl")` to a position in the file.

    Path elements that are not keys of the current mapping (pydantic's union tags,
    or the name of a missing key) are skipped, so the position is that of the deepest
    node that exists. `"[key]"` (pydantic's marker for a bad mapping key) selects the
    key itself rather than its value.
    """

    def __init__(self, root: Node) -> None:
        self.root = root

    def locate(self, loc: Loc, *, key: bool = False) -> Position:
        """The position of the value at `loc`, or of its key when `key` is true."""
        node, key_node = self._walk(loc)
        if (key or (loc and loc[-1] == "[key]")) and key_node is not None:
            return node_position(key_node)
        return node_position(node)

    def owner(self, loc: Loc) -> Position:
        """The position of the key (or list item) holding the value at `loc`, else the top."""
        _, key_node = self._walk(loc)
        return node_position(key_node) if key_node is not None else node_position(self.root)

    def exists(self, loc: Loc) -> bool:
        """True when every element of `loc` is present in the document."""
        node: Node = self.root
        for part in loc:
            child = _child(node, part)
            if child is None:
                return False
            node = child[1]
        return True

    def _walk(self, loc: Loc) -> tuple[Node, Node | None]:
        node: Node = self.root
        key_node: Node | None = None
        for part in loc:
            if isinstance(node, ScalarNode):
                break
            child = _child(node, part)
            if child is not None:
                key_node, node = child
        return node, key_node


def _child(node: Node, part: LocPart) -> tuple[Node, Node] | None:
    # The first node is the anchor of the child: its key, or the item itself in a list.
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if key_text(key_node) == str(part):
                return key_node, value_node
    elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None
