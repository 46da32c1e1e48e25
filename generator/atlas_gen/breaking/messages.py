"""Messages on topics: old consumers read the new producers, the new consumers read old producers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from atlas_spec import FieldSpec, MessageSpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, Topic, TopicUse
from .common import OPTIONAL, Fields, Gap, Loc, field_gaps, finding, pairs, spelled, type_loc


def _message(use: TopicUse) -> MessageSpec | None:
    return use.file.spec.messages.get(use.message)


def _distinct(uses: Iterable[TopicUse]) -> list[TopicUse]:
    """One use per service and message (saga steps often send one message on one topic)."""
    found: dict[tuple[str, str], TopicUse] = {}
    for use in uses:
        if _message(use) is not None:
            found.setdefault((use.service, use.message), use)
    return list(found.values())


def _field_loc(message: str, message_type: str | None, name: str) -> Loc:
    if message_type is None:
        return ("messages", message, "fields", name)
    return ("messages", message, "types", message_type, name)


def _what(message: str, message_type: str | None, name: str) -> str:
    part = "envelope" if message_type is None else f"`{message_type}` body"
    return f"{part} field `{name}` of `{message}`"


def _message_gaps(
    reader: TopicUse, sender: TopicUse, *, defaults_sent: bool
) -> Iterator[tuple[str | None, Gap]]:
    """Gaps between two messages: the envelope (type None), then each type both declare."""
    read, sent = _message(reader), _message(sender)
    if read is None or sent is None:
        return
    read_spec, sent_spec = reader.file.spec, sender.file.spec
    sides: list[tuple[str | None, Mapping[str, FieldSpec], Mapping[str, FieldSpec]]] = [
        (None, read.fields, sent.fields)
    ]
    sides += [(name, read.types[name], body) for name, body in sent.types.items() if name in read.types]
    for message_type, read_fields, sent_fields in sides:
        gaps = field_gaps(Fields(read_spec, read_fields), Fields(sent_spec, sent_fields, defaults_sent))
        yield from ((message_type, gap) for gap in gaps if gap.kind != "dropped")


def _old_topic(old: Ecosystem, token: str) -> Topic:
    return old.topics.get(token, Topic(token))


def produced_messages(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """Old consumers of a topic read what its new producers send, and a producer keeps its types.

    The old consumers are those of the old folder; when it has none, the producer's old
    message stands in for them.
    """
    for topic in new.topics.values():
        old_topic = _old_topic(old, topic.token)
        for use in _distinct(topic.producers):
            own = [before for before in _distinct(old_topic.producers) if before.service == use.service]
            yield from _removed_types(use, own)
            for reader in _distinct(old_topic.consumers) or own:
                yield from _producer_gaps(use, reader)


def _removed_types(use: TopicUse, own: list[TopicUse]) -> Iterator[Diagnostic]:
    sent = _types(use)
    for before in own:
        for message_type in [name for name in _types(before) if name not in sent]:
            message = (
                f"`{use.service}` no longer sends `{message_type}` on `{use.token}` "
                f"(`{use.message}` does not declare it): its consumers wait for it in vain"
            )
            yield finding(use.file, ("messages", use.message, "types", message_type), "B001", message)


def _producer_gaps(use: TopicUse, reader: TopicUse) -> Iterator[Diagnostic]:
    proxy = reader.role == "producer"
    who = "its consumers" if proxy else f"old `{reader.service}`"
    for message_type, gap in _message_gaps(reader, use, defaults_sent=True):
        what, loc = (
            _what(use.message, message_type, gap.name),
            _field_loc(use.message, message_type, gap.name),
        )
        if gap.kind == "missing":
            declare = "declare" if proxy else "declares"
            message = f"{what} is no longer sent on `{use.token}`, but {who} {declare} it without a default"
            yield finding(
                use.file,
                loc,
                "B002",
                message,
                expected="the field still sent, or a default in every consumer",
            )
        elif gap.read is not None and gap.sent is not None:
            read, sent = (reader.file.spec, gap.read.type), (use.file.spec, gap.sent.type)
            message = (
                f"{what} is now sent on `{use.token}` as `{spelled(sent, read)}`, "
                f"which {who} (reading `{spelled(read, sent)}`) cannot decode"
            )
            yield finding(use.file, type_loc(use.file, loc), "B003", message, value=True)


def consumed_messages(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """New consumers of a topic read what its old producers send (still running, or still in the topic).

    The old producers are those of the old folder; when it has none, the consumer's old
    message stands in for them (a field it had a default for may not be sent).
    """
    for topic in new.topics.values():
        old_topic = _old_topic(old, topic.token)
        for use in _distinct(topic.consumers):
            own = [before for before in _distinct(old_topic.consumers) if before.service == use.service]
            for sender in _distinct(old_topic.producers) or own:
                yield from _consumer_gaps(use, sender)
                yield from _unread_types(use, sender, own)


def _consumer_gaps(use: TopicUse, sender: TopicUse) -> Iterator[Diagnostic]:
    proxy = sender.role == "consumer"
    for message_type, gap in _message_gaps(use, sender, defaults_sent=not proxy):
        what, loc = (
            _what(use.message, message_type, gap.name),
            _field_loc(use.message, message_type, gap.name),
        )
        if gap.kind == "missing":
            who = f"the producers of `{use.token}` may" if proxy else f"old `{sender.service}` does"
            message = f"{what} is required, but {who} not send it on `{use.token}`"
            yield finding(use.file, loc, "B004", message, expected=OPTIONAL)
        elif gap.read is not None and gap.sent is not None:
            read, sent = (use.file.spec, gap.read.type), (sender.file.spec, gap.sent.type)
            was = f"`{spelled(sent, read)}`"
            source = f"the old version read {was}" if proxy else f"old `{sender.service}` sends {was}"
            message = f"{what} is now read as `{spelled(read, sent)}`, but {source} on `{use.token}`"
            yield finding(use.file, type_loc(use.file, loc), "B003", message, value=True)


def _types(use: TopicUse) -> list[str]:
    message = _message(use)
    return list(message.types) if message is not None else []


def _unread_types(use: TopicUse, sender: TopicUse, own: list[TopicUse]) -> Iterator[Diagnostic]:
    read = _types(use)
    used_to_read = {name for before in own for name in _types(before)}
    who = (
        f"still sent on `{use.token}`" if sender.role == "consumer" else f"that old `{sender.service}` sends"
    )
    for message_type in _types(sender):
        if message_type not in read and message_type in used_to_read:
            message = (
                f"`{use.message}` no longer declares `{message_type}`, so the `{message_type}` messages "
                f"{who} are skipped"
            )
            yield finding(use.file, ("messages", use.message, "types", message_type), "B005", message)


def _produced_tokens(ecosystem: Ecosystem, service: str) -> set[str]:
    return {
        use.token for topic in ecosystem.topics.values() for use in topic.producers if use.service == service
    }


def topics_still_produced(old: Ecosystem, new: Ecosystem) -> Iterator[Diagnostic]:
    """A service that stops producing a topic starves its consumers (warning)."""
    for old_file, new_file in pairs(old, new):
        gone = _produced_tokens(old, old_file.name) - _produced_tokens(new, new_file.name)
        for token in sorted(gone):
            message = f"`{new_file.name}` no longer produces `{token}`; its consumers stop getting them"
            yield finding(new_file, ("produces", token), "B006", message)
