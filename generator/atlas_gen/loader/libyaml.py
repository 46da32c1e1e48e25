"""A fast path for composing YAML with libyaml (through PyYAML's C loader), when present.

ruamel.yaml stays the reference parser: every diagnostic comes from it. libyaml composes
the same node tree about fifteen times faster, so a folder of specs validates well within
its time budget. The tree is translated into ruamel.yaml nodes, and plain scalars are
resolved again with ruamel.yaml's YAML 1.2 rules (libyaml's loader follows YAML 1.1,
where `yes` is a boolean). Anything libyaml rejects, and any text that may hold explicit
`!tags`, goes to ruamel.yaml instead, which then decides and explains.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag


def _load_libyaml() -> Any:
    try:
        module = importlib.import_module("yaml")
    except ImportError:
        return None
    return module if getattr(module, "__with_libyaml__", False) else None


_PYYAML: Any = _load_libyaml()
_STR_TAG = "tag:yaml.org,2002:str"
# An explicit tag (`!!str 5`) changes how a plain scalar resolves; leave those to ruamel.
_POSSIBLE_TAG = re.compile(r"(?:^|[\s,\[{:-])!")


class FastPathUnavailable(Exception):
    """libyaml is not installed, or did not accept this text: use ruamel.yaml."""


def compose_with_libyaml(text: str) -> Node | None:
    """Compose one YAML document into ruamel.yaml nodes using libyaml.

    Returns:
        The root node, or None for an empty document.

    Raises:
        FastPathUnavailable: libyaml is missing, rejected the text, or the text may use tags.
    """
    if _PYYAML is None or _POSSIBLE_TAG.search(text):
        raise FastPathUnavailable
    try:
        root = _PYYAML.compose(text, Loader=_PYYAML.CSafeLoader)
    except _PYYAML.YAMLError as error:
        raise FastPathUnavailable from error
    return None if root is None else _Translator().translate(root)


_RESOLVER = VersionedResolver()


@functools.lru_cache(maxsize=4096)
def _plain_tag(value: str) -> Tag:
    # Specs repeat the same few scalars (`uint32`, `true`); resolving each once is enough.
    return _shared_tag(str(_RESOLVER.resolve(ScalarNode, value, (True, False))))


@functools.lru_cache(maxsize=64)
def _shared_tag(name: str) -> Tag:
    # A Tag decodes its name on first use and caches it: share one per name, not one per node.
    tag = Tag(suffix=name)
    _ = tag.trval
    return tag


class _Translator:
    """PyYAML nodes to ruamel.yaml nodes, keeping shared (aliased) nodes shared."""

    def __init__(self) -> None:
        self.done: dict[int, Node] = {}

    def translate(self, node: Any) -> Node:
        existing = self.done.get(id(node))
        if existing is not None:
            return existing
        if node.id == "scalar":
            # libyaml gives a plain scalar an empty style, PyYAML's Python loader None.
            plain = not node.style
            tag = _plain_tag(node.value) if plain else _shared_tag(_STR_TAG)
            scalar = ScalarNode(tag, node.value, node.start_mark, node.end_mark, style=node.style or None)
            self.done[id(node)] = scalar
            return scalar
        if node.id == "sequence":
            sequence = SequenceNode(
                _shared_tag(node.tag), [], node.start_mark, node.end_mark, flow_style=node.flow_style
            )
            self.done[id(node)] = sequence
            sequence.value.extend(self.translate(item) for item in node.value)
            return sequence
        mapping = MappingNode(
            _shared_tag(node.tag), [], node.start_mark, node.end_mark, flow_style=node.flow_style
        )
        self.done[id(node)] = mapping
        mapping.value.extend((self.translate(key), self.translate(value)) for key, value in node.value)
        return mapping
