"""`atlas-gen graph`: the topology of services, topics, calls and sagas as Mermaid or Graphviz."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from atlas_gen.cli import app

ROOT = Path(__file__).resolve().parents[2]

PARTIES = """
service: parties
messages:
  PartyStatus:
    fields: {party_id: uint32}
    types: {CREATED: {}}
produces:
  EVENT_TOPIC_PARTY_STATUS: {message: PartyStatus, key: party_id}
"""

BUFFS = """
service: buffs
calls: [parties]
messages:
  PartyStatus:
    fields: {party_id: uint32}
    types: {CREATED: {}}
consumes:
  EVENT_TOPIC_PARTY_STATUS:
    message: PartyStatus
    handlers: {CREATED: buffs_logic.parties:created}
"""


def _specs(tmp_path: Path) -> Path:
    (tmp_path / "parties.yaml").write_text(PARTIES)
    (tmp_path / "buffs.yaml").write_text(BUFFS)
    return tmp_path


def test_mermaid_shows_topics_both_ends_and_calls(tmp_path: Path) -> None:
    """Each service and topic is a node; produce, consume and call edges carry their message."""
    result = CliRunner().invoke(app, ["graph", "--specs", str(_specs(tmp_path))])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "flowchart LR",
        '  svc_buffs["buffs"]',
        '  svc_parties["parties"]',
        '  topic_EVENT_TOPIC_PARTY_STATUS(["EVENT_TOPIC_PARTY_STATUS"])',
        '  topic_EVENT_TOPIC_PARTY_STATUS -- "PartyStatus" --> svc_buffs',
        "  svc_buffs -. REST .-> svc_parties",
        '  svc_parties -- "PartyStatus" --> topic_EVENT_TOPIC_PARTY_STATUS',
    ]


def test_dot_labels_saga_commands_with_their_saga(tmp_path: Path) -> None:
    """In Graphviz form, the orchestrator's step commands name the saga that sends them."""
    out = tmp_path / "graph.dot"
    specs = ROOT / "tests" / "render" / "fixtures" / "sagas" / "specs"
    result = CliRunner().invoke(app, ["graph", "--specs", str(specs), "--format", "dot", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("digraph atlas {")
    assert (
        '"svc:orchestrator" -> "topic:COMMAND_TOPIC_INVENTORY" [label="InventoryCommand (saga purchase)"];'
        in text
    )


def test_invalid_specs_exit_1_with_diagnostics(tmp_path: Path) -> None:
    """A spec error is reported with its location and no graph is printed."""
    (tmp_path / "parties.yaml").write_text("service: parties\nreplicas: many\n")
    result = CliRunner().invoke(app, ["graph", "--specs", str(tmp_path)])
    assert result.exit_code == 1
    assert "parties.yaml:2:11" in result.output
    assert "flowchart" not in result.output
