"""The example ecosystem and the valid fixtures load, validate and form the right graph."""

from __future__ import annotations

from pathlib import Path

from atlas_gen import load_ecosystem
from atlas_gen.diagnostics import has_errors
from atlas_spec import GetOperation, HandlerOperation, ListOperation, format_duration

ROOT = Path(__file__).resolve().parent.parent.parent
SPECS = ROOT / "specs"
SAGAS = Path(__file__).parent / "valid" / "saga-ecosystem"


def test_example_ecosystem_is_valid() -> None:
    """specs/ validates without errors and holds parties, drops and buffs."""
    ecosystem, diagnostics = load_ecosystem(SPECS)
    assert not has_errors(diagnostics), [diagnostic.format() for diagnostic in diagnostics]
    assert ecosystem is not None
    assert set(ecosystem.services) == {"parties", "drops", "buffs"}
    assert all(diagnostic.severity == "warning" for diagnostic in diagnostics)


def test_parties_example_reads_as_written() -> None:
    """The spec-language example keeps its values: kinds, ids, ttl, flush, endpoints."""
    ecosystem, _ = load_ecosystem(SPECS)
    assert ecosystem is not None
    parties = ecosystem.spec("parties")
    assert parties.effective_consumer_group == "Party Service"
    assert parties.package == "atlas_parties"
    assert parties.state["parties"].ids is not None and parties.state["parties"].ids.start == 1_000_000_000
    assert parties.state["parties"].indexes["member"].field == "members"
    invites_ttl, positions_flush = parties.state["invites"].ttl, parties.state["positions"].flush
    assert invites_ttl is not None and format_duration(invites_ttl) == "30s"
    assert positions_flush is not None and format_duration(positions_flush) == "100ms"
    assert parties.models["Member"]["level"].default == 1
    assert parties.models["Member"]["party_id"].type.optional
    assert parties.consumes["COMMAND_TOPIC_PARTY"].retry.attempts == 5
    listing = parties.endpoints["/parties"]["get"]
    assert isinstance(listing, ListOperation) and listing.filters == {"members.id": "member"}
    assert isinstance(parties.endpoints["/parties/{id}"]["get"], GetOperation)
    create = parties.endpoints["/parties"]["post"]
    assert isinstance(create, HandlerOperation) and create.status == 202 and str(create.body) == "PartyCreate"
    assert parties.database is not None and parties.database.tables["notes"].tenant_scoped


def test_topic_graph_links_producers_and_consumers() -> None:
    """The ecosystem's topic graph knows who produces and who consumes each token."""
    ecosystem, _ = load_ecosystem(SPECS)
    assert ecosystem is not None
    status = ecosystem.topics["EVENT_TOPIC_PARTY_STATUS"]
    assert [use.service for use in status.producers] == ["parties"]
    assert [use.service for use in status.consumers] == ["buffs"]
    assert ecosystem.calls["buffs"] == ("parties",)


def test_saga_ecosystem_is_valid_and_in_the_graph() -> None:
    """Saga commands count as produced and completion events as consumed by the orchestrator."""
    ecosystem, diagnostics = load_ecosystem(SAGAS)
    assert diagnostics == []
    assert ecosystem is not None
    wallet = ecosystem.topics["COMMAND_TOPIC_WALLET"]
    assert {use.service for use in wallet.producers} == {"orchestrator"}
    assert {use.service for use in wallet.consumers} == {"wallet"}
    saga = ecosystem.spec("orchestrator").sagas["purchase"]
    assert [step.name for step in saga.steps] == ["reserve_mesos", "grant_item", "settle"]
    assert saga.steps[-1].compensation == "none"
    assert format_duration(saga.timeout) == "30s"


def test_a_saga_trigger_nobody_produces_and_events_nobody_consumes_are_warned(tmp_path: Path) -> None:
    """The trigger and events topics of a saga face other services: a missing end is a warning."""
    for spec in SAGAS.glob("*.yaml"):
        text = spec.read_text()
        if spec.name == "inventory.yaml":  # neither produces the trigger nor consumes the events
            text = text.replace("  COMMAND_TOPIC_PURCHASE: {message: PurchaseCommand, key: character_id}", "")
            text = text.replace("  EVENT_TOPIC_SAGA_STATUS:\n", "  EVENT_TOPIC_OTHER_STATUS:\n")
        (tmp_path / spec.name).write_text(text)
    ecosystem, diagnostics = load_ecosystem(tmp_path)
    assert ecosystem is not None
    warned = {(d.code, Path(d.file).name, d.message.rsplit(" ", 1)[-1]) for d in diagnostics}
    assert {
        ("W101", "orchestrator.yaml", "`COMMAND_TOPIC_PURCHASE`"),
        ("W102", "orchestrator.yaml", "`EVENT_TOPIC_SAGA_STATUS`"),
    } <= warned


def test_an_unknown_saga_action_topic_suggests_a_consumed_topic(tmp_path: Path) -> None:
    """An action's did-you-mean names a topic some service consumes, not a status topic."""
    for spec in SAGAS.glob("*.yaml"):
        text = spec.read_text()
        if spec.name == "orchestrator.yaml":
            text = text.replace(
                "action: {topic: COMMAND_TOPIC_INVENTORY", "action: {topic: EVENT_TOPIC_WALLET"
            )
        (tmp_path / spec.name).write_text(text)
    _, diagnostics = load_ecosystem(tmp_path)
    [unknown] = [d for d in diagnostics if d.code == "E050"]
    assert unknown.message.endswith("did you mean `COMMAND_TOPIC_WALLET`?"), unknown.message


def test_warnings_alone_keep_the_ecosystem(tmp_path: Path) -> None:
    """A spec with only warnings (an unconsumed topic) still yields the ecosystem."""
    (tmp_path / "solo.yaml").write_text(
        "service: solo\nmessages:\n  Ping:\n    types: {PING: {}}\n"
        "produces:\n  EVENT_TOPIC_PING: {message: Ping}\n"
    )
    ecosystem, diagnostics = load_ecosystem(tmp_path)
    assert ecosystem is not None
    assert [(diagnostic.code, diagnostic.line, diagnostic.column) for diagnostic in diagnostics] == [
        ("W102", 6, 3)
    ]
