"""YAML text to plain data plus a `SourceMap`, or located diagnostics; never a traceback.

The document is composed into ruamel.yaml nodes (which carry line and column), checked
for duplicate keys, then converted to plain Python data by hand so that every value
keeps a node to point at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from ..diagnostics import Diagnostic
from .libyaml import FastPathUnavailable, compose_with_libyaml
from .source_map import SourceMap, key_text, node_position

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_LEADING_WHITESPACE = re.compile(r"^[ \t]*")
_TYPE_WITH_BRACKETS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\[")


@dataclass(frozen=True)
class ParsedYaml:
    """A document that parsed: its data and where each part of it is."""

    data: dict[str, Any]
    source: SourceMap


def parse_yaml(text: str, file: str, *, fast: bool = True) -> ParsedYaml | list[Diagnostic]:
    """Parse one spec file.

    Args:
        text: the file's contents.
        file: the name used in diagnostics.
        fast: try libyaml first (see `libyaml`); false parses with ruamel.yaml only.

    Returns:
        The data and its source map, or the diagnostics explaining why there is none.
    """
    yaml = YAML(typ="safe", pure=True)
    try:
        if not fast:
            raise FastPathUnavailable
        root = compose_with_libyaml(text)
    except FastPathUnavailable:
        try:
            root = yaml.compose(text)
        except MarkedYAMLError as error:
            # Tabs may sit in block scalars; they only explain the failure when parsing failed.
            return _tab_diagnostics(text, file) or [_syntax_diagnostic(error, text, file)]
        except ReaderError as error:
            return [_reader_diagnostic(error, text, file)]
        except YAMLError as error:
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            return [Diagnostic(file, 1, 1, "error", "E001", f"not readable as YAML: {first_line}")]
    if root is None:
        return [
            Diagnostic(file, 1, 1, "error", "E002", "the file is empty", "a mapping starting with `service:`")
        ]
    if not isinstance(root, MappingNode):
        position = node_position(root)
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        return [
            Diagnostic(
                file,
                position.line,
                position.column,
                "error",
                "E006",
                f"the top level of a spec is {kind}, not a mapping",
                "a mapping of keys like `service: parties`",
            )
        ]
    converter = _Converter(yaml, file)
    data = converter.convert(root)
    if converter.diagnostics:
        return converter.diagnostics
    return ParsedYaml(data, SourceMap(root))


def _reader_diagnostic(error: ReaderError, text: str, file: str) -> Diagnostic:
    before = text[: error.position]
    line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
    character = error.character if isinstance(error.character, str) else chr(error.character)
    message = f"character {character!r} (#x{ord(character):04x}) is not allowed in YAML: {error.reason}"
    return Diagnostic(file, line, column, "error", "E001", message)


def _tab_diagnostics(text: str, file: str) -> list[Diagnostic]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        indentation = _LEADING_WHITESPACE.match(line)
        if indentation and "\t" in indentation.group() and line.strip():
            found.append(
                Diagnostic(
                    file,
                    number,
                    indentation.group().index("\t") + 1,
                    "error",
                    "E003",
                    "a tab in the indentation; YAML indents with spaces only",
                    "spaces",
                )
            )
    return found


def _syntax_diagnostic(error: MarkedYAMLError, text: str, file: str) -> Diagnostic:
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line, mark.column) if mark is not None else (0, 0)
    problem = str(error.problem or "")
    if "undefined alias" in problem:
        return Diagnostic(
            file, line + 1, column + 1, "error", "E007", f"{problem}; an alias must follow its `&anchor`"
        )
    bracket = _flow_bracket_diagnostic(error, text, file)
    if bracket is not None:
        return bracket
    if "another document" in problem:
        return Diagnostic(
            file,
            line + 1,
            column + 1,
            "error",
            "E001",
            "a spec file holds a single YAML document; found `---`",
        )
    context = f" {error.context}" if error.context else ""
    start = error.context_mark
    if start is not None and "<stream end>" in problem:
        # The file ended inside a construct: the useful place is where it was opened.
        return Diagnostic(
            file,
            start.line + 1,
            start.column + 1,
            "error",
            "E001",
            f"YAML syntax error: this is never closed; {problem}{context}",
        )
    if start is not None and (start.line, start.column) != (line, column):
        context += f" (started at line {start.line + 1}, column {start.column + 1})"
    return Diagnostic(file, line + 1, column + 1, "error", "E001", f"YAML syntax error: {problem}{context}")


def _flow_bracket_diagnostic(error: MarkedYAMLError, text: str, file: str) -> Diagnostic | None:
    """Recognise `{members: list[uint32]}`: brackets inside a flow mapping are YAML syntax."""
    if "flow mapping" not in str(error.context or "") or error.problem_mark is None:
        return None
    lines = text.splitlines()
    mark = error.problem_mark
    for number in (mark.line, getattr(error.context_mark, "line", mark.line)):
        if number >= len(lines):
            continue
        line = lines[number]
        for match in _TYPE_WITH_BRACKETS.finditer(line):
            if "{" not in line[: match.start()]:
                continue
            expression = _balanced(line, match.start())
            return Diagnostic(
                file,
                number + 1,
                match.start() + 1,
                "error",
                "E004",
                f"`{expression}` inside a `{{...}}` flow mapping: `[` and `]` are YAML syntax there",
                f'the type quoted (`"{expression}"`) or the mapping written in block style',
            )
    return None


def _balanced(line: str, start: int) -> str:
    depth = 0
    for index in range(start, len(line)):
        if line[index] == "[":
            depth += 1
        elif line[index] == "]":
            depth -= 1
            if depth == 0:
                end = index + 1
                return line[start : end + 1] if line[end : end + 1] == "?" else line[start:end]
    return line[start:].split("}")[0].strip()


class _Converter:
    """Nodes to plain data, reporting duplicate keys (at the second one)."""

    def __init__(self, yaml: YAML, file: str) -> None:
        self.constructor = yaml.constructor
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.active: set[int] = set()

    def convert(self, node: Node) -> Any:
        if isinstance(node, ScalarNode):
            return node.value if node.tag == _STR_TAG else self.constructor.construct_object(node, deep=True)
        if id(node) in self.active:
            self._report(node, "E007", "an alias refers to a mapping or list that contains it")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.convert(item) for item in node.value]
            return self._mapping(node)
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: Node) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge(result, value_node)
                continue
            name = key_text(key_node)
            if name in first_seen:
                first = node_position(first_seen[name])
                self._report(key_node, "E005", f"duplicate key `{name}` (first at line {first.line})")
                continue
            first_seen[name] = key_node
            # Keys of a spec are names: keep their text (`1:`, `null:` and `yes:` stay strings).
            result[name] = self.convert(value_node)
        return result

    def _merge(self, result: dict[Any, Any], value_node: Node) -> None:
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            merged = self.convert(source)
            if isinstance(merged, dict):
                for key, value in merged.items():
                    result.setdefault(key, value)
            else:
                self._report(source, "E001", "`<<` merges a mapping (or a list of mappings)")

    def _report(self, node: Node, code: str, message: str) -> None:
        position = node_position(node)
        self.diagnostics.append(Diagnostic(self.file, position.line, position.column, "error", code, message))
