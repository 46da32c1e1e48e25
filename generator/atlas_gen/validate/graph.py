"""Rules across services: producers and consumers of a topic agree on its messages.

A consumer must understand every type a producer sends, with the same envelope and
body fields and types (models compared by structure), and both must use the same wire
case. Topics consumed and never produced, or produced and never consumed, are warnings:
the other side may live outside this folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from atlas_spec import FieldSpec, MessageSpec, ServiceSpec

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, Topic, TopicUse
from ._resolve import shape


def _field_differences(
    what: str,
    producer: tuple[ServiceSpec, dict[str, FieldSpec]],
    consumer: tuple[ServiceSpec, dict[str, FieldSpec]],
) -> Iterator[str]:
    producer_spec, produced = producer
    consumer_spec, consumed = consumer
    for name in produced.keys() - consumed.keys():
        yield f"{what} field `{name}` is sent but not declared by the consumer"
    for name in consumed.keys() - produced.keys():
        yield f"{what} field `{name}` is expected but not sent"
    for name in produced.keys() & consumed.keys():
        sent = shape(producer_spec, produced[name].type)
        expected = shape(consumer_spec, consumed[name].type)
        if sent != expected:
            declared = (str(produced[name].type), str(consumed[name].type))
            detail = declared if declared[0] != declared[1] else (sent, expected)
            yield f"{what} field `{name}` is sent as `{detail[0]}` but read as `{detail[1]}`"


def message_differences(producer: TopicUse, consumer: TopicUse) -> list[str]:
    """Why a consumer cannot read what a producer sends ([] when compatible)."""
    producer_spec, consumer_spec = producer.file.spec, consumer.file.spec
    sent: MessageSpec = producer_spec.messages[producer.message]
    read: MessageSpec = consumer_spec.messages[consumer.message]
    problems: list[str] = []
    if producer_spec.wire_case != consumer_spec.wire_case:
        problems.append(
            f"wire_case differs (`{producer_spec.wire_case}` sent, `{consumer_spec.wire_case}` read)"
        )
    problems.extend(
        sorted(_field_differences("envelope", (producer_spec, sent.fields), (consumer_spec, read.fields)))
    )
    for message_type, body in sent.types.items():
        if message_type not in read.types:
            problems.append(f"type `{message_type}` is sent but not declared by the consumer")
            continue
        what = f"`{message_type}` body"
        problems.extend(
            sorted(_field_differences(what, (producer_spec, body), (consumer_spec, read.types[message_type])))
        )
    return problems


def _declared(use: TopicUse) -> bool:
    return use.message in use.file.spec.messages


def compatible_messages(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Each consumer of a topic reads what each producer of it sends (unless it is the same message)."""
    for topic in ecosystem.topics.values():
        for consumer in filter(_declared, topic.consumers):
            for producer in filter(_declared, topic.producers):
                if producer.file is consumer.file and producer.message == consumer.message:
                    continue
                problems = message_differences(producer, consumer)
                if not problems:
                    continue
                yield consumer.file.diagnostic(
                    (*consumer.loc, "message"),
                    "E040",
                    f"`{consumer.message}` does not match `{producer.message}` that `{producer.service}` "
                    f"produces on `{topic.token}`: " + "; ".join(problems),
                    expected="the same types, envelope and body fields as the producer's message",
                )
                yield producer.file.diagnostic(
                    (*producer.loc, "message"),
                    "N001",
                    f"`{producer.service}` produces `{producer.message}` on `{topic.token}` here",
                    severity="note",
                )


def _first_per_service(uses: Iterable[TopicUse]) -> list[TopicUse]:
    firsts: dict[str, TopicUse] = {}
    for use in uses:
        firsts.setdefault(use.service, use)
    return list(firsts.values())


def _warned_uses(topic: Topic, uses: tuple[TopicUse, ...]) -> list[TopicUse]:
    """The uses a missing other end is warned at, the first of each service.

    A topic only one service's sagas use is the saga rules' (E050) for its actions and
    completions; its trigger and events topics still face other services, so they are warned.
    """
    everyone = (*topic.producers, *topic.consumers)
    saga_only = len({use.service for use in everyone}) == 1 and all(use.loc[0] == "sagas" for use in everyone)
    warned = [use for use in uses if not saga_only or use.loc[-1] in ("trigger", "events")]
    return _first_per_service(warned)


def topics_have_both_ends(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Warn about topics nobody produces or nobody consumes (only when every file loaded)."""
    if not ecosystem.complete:
        return
    for topic in ecosystem.topics.values():
        if not topic.producers:
            for use in _warned_uses(topic, topic.consumers):
                yield use.file.diagnostic(
                    use.loc,
                    "W101",
                    f"no service in this folder produces `{topic.token}`",
                    severity="warning",
                    key=True,
                )
        if not topic.consumers:
            for use in _warned_uses(topic, topic.producers):
                yield use.file.diagnostic(
                    use.loc,
                    "W102",
                    f"no service in this folder consumes `{topic.token}`",
                    severity="warning",
                    key=True,
                )


RULES = (compatible_messages, topics_have_both_ends)
