"""Services removed, and service-wide settings that change what other services see."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from .common import Loc, finding, pairs


def services_kept(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """A removed service leaves its callers, consumers and stored state behind (warning)."""
    for name in sorted(old.services.keys() - new.services.keys()):
        message = f"service `{name}` is removed; its callers, consumers of its topics and its data are left"
        yield finding(old.services[name], ("service",), "B040", message, value=True)


def _top_level(file: SpecFile, key: str) -> Loc:
    return (key,) if file.source.exists((key,)) else ("service",)


def wire_case_kept(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """`wire_case` renames every field on the wire: topics, REST and stored values."""
    for old_file, new_file in pairs(old, new):
        before, after = old_file.spec.wire_case, new_file.spec.wire_case
        if before != after:
            message = (
                f"`wire_case` changes from `{before}` to `{after}`: running peers, messages in topics "
                "and stored values use the old field names"
            )
            yield finding(new_file, _top_level(new_file, "wire_case"), "B041", message, value=True)


def consumer_group_kept(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """A new consumer group does not have the old group's committed offsets (warning)."""
    for old_file, new_file in pairs(old, new):
        before, after = old_file.spec.effective_consumer_group, new_file.spec.effective_consumer_group
        if before != after and old_file.spec.consumes and new_file.spec.consumes:
            message = (
                f"consumer group changes from `{before}` to `{after}`: the new group starts without "
                "the old one's offsets, so messages are skipped or handled again"
            )
            yield finding(new_file, _top_level(new_file, "consumer_group"), "B042", message, value=True)
