"""Rules about one service's topic bindings: messages, types, envelope fields, outbox, locks."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Diagnostic
from ..ecosystem import Ecosystem, SpecFile
from ._resolve import did_you_mean, envelope_fields, one_of

Loc = tuple[str | int, ...]


def _message_exists(spec_file: SpecFile, message: str, loc: Loc) -> Iterator[Diagnostic]:
    messages = spec_file.spec.messages
    if message not in messages:
        yield spec_file.diagnostic(
            loc,
            "E022",
            f"unknown message `{message}`" + did_you_mean(message, messages),
            expected=one_of(messages),
        )


def _envelope_field(
    spec_file: SpecFile, message: str, field: str | None, loc: Loc, role: str
) -> Iterator[Diagnostic]:
    if field is None or message not in spec_file.spec.messages:
        return
    fields = envelope_fields(spec_file.spec, message)
    if field not in fields:
        text = f"{role} `{field}` is not an envelope field of `{message}`" + did_you_mean(field, fields)
        yield spec_file.diagnostic(loc, "E026", text, expected=one_of(fields))


def consumed_bindings(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """A consumed topic names a declared message, its types, envelope fields and locks."""
    for spec_file in ecosystem.files:
        spec = spec_file.spec
        for token, consume in spec.consumes.items():
            loc: Loc = ("consumes", token)
            yield from _message_exists(spec_file, consume.message, (*loc, "message"))
            yield from _envelope_field(spec_file, consume.message, consume.dedupe, (*loc, "dedupe"), "dedupe")
            declared = spec.messages.get(consume.message)
            if declared is not None:
                for message_type in consume.handlers:
                    if message_type not in declared.types:
                        text = f"`{consume.message}` has no type `{message_type}`" + did_you_mean(
                            message_type, declared.types
                        )
                        yield spec_file.diagnostic(
                            (*loc, "handlers", message_type),
                            "E027",
                            text,
                            key=True,
                            expected=one_of(declared.types),
                        )
            if consume.lock is not None:
                yield from _consume_lock(spec_file, consume.message, consume.lock.name, consume.lock.key, loc)


def _consume_lock(spec_file: SpecFile, message: str, lock: str, key: str, loc: Loc) -> Iterator[Diagnostic]:
    locks = spec_file.spec.locks
    if lock not in locks:
        text = f"unknown lock `{lock}`" + did_you_mean(lock, locks)
        yield spec_file.diagnostic((*loc, "lock", "name"), "E025", text, expected=one_of(locks))
    yield from _envelope_field(spec_file, message, key, (*loc, "lock", "key"), "lock key")


def produced_bindings(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """A produced topic names a declared message and key; `via: outbox` needs the outbox."""
    for spec_file in ecosystem.files:
        spec = spec_file.spec
        for token, produce in spec.produces.items():
            loc: Loc = ("produces", token)
            yield from _message_exists(spec_file, produce.message, (*loc, "message"))
            yield from _envelope_field(spec_file, produce.message, produce.key, (*loc, "key"), "key")
            if produce.via == "outbox" and spec.database is None:
                yield spec_file.diagnostic(
                    (*loc, "via"),
                    "E041",
                    f"`{token}` is sent `via: outbox`, which needs `database:`",
                    expected="`database: {outbox: true}` or `via: direct`",
                )
            elif produce.via == "outbox" and spec.database is not None and not spec.database.outbox:
                yield spec_file.diagnostic(
                    (*loc, "via"),
                    "E041",
                    f"`{token}` is sent `via: outbox`, but `database.outbox` is false",
                    expected="`outbox: true` under `database:`",
                )


def envelope_names_free(ecosystem: Ecosystem) -> Iterator[Diagnostic]:
    """Envelope fields may not be called `type` or `body` (the envelope's own keys)."""
    for spec_file in ecosystem.files:
        for message_name, message in spec_file.spec.messages.items():
            for field in ("type", "body"):
                if field in message.fields:
                    yield spec_file.diagnostic(
                        ("messages", message_name, "fields", field),
                        "E028",
                        f"envelope field `{field}` clashes with the envelope's own `{field}`",
                        key=True,
                    )


RULES = (consumed_bindings, produced_bindings, envelope_names_free)
