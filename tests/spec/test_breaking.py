"""`atlas-gen breaking`: changes between two versions of a specs folder that break what runs.

Each case edits a small base ecosystem (a producer with state, endpoints and a table, a
consumer of its topic, and a saga orchestrator with its participant) and checks the code,
severity and `file:line:col` of what is reported, and that nothing else is.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from atlas_gen import cli_breaking
from atlas_gen.breaking import BREAKING_CODES, RISKY, breaking_changes
from atlas_gen.diagnostics import Diagnostic
from atlas_gen.loader import load_ecosystem

ROOT = Path(__file__).resolve().parents[2]

PARTIES = """\
service: parties
models:
  Party:
    id: uint32
    leader_id: uint32
  PartyCreate:
    leader_id: uint32
state:
  parties:
    key: uint32
    value: Party
  archive:
    kind: ttl
    key: uint32
    value: Party
    ttl: 30s
messages:
  PartyStatus:
    fields:
      party_id: uint32
    types:
      CREATED: {}
      LEFT:
        force: bool
produces:
  EVENT_TOPIC_PARTY_STATUS: {message: PartyStatus, key: party_id}
endpoints:
  /parties:
    post: {handler: parties_logic.rest:create, body: PartyCreate, returns: Party}
  /parties/{id}:
    get: {get: parties}
  /parties/{id}/size:
    get: {handler: parties_logic.rest:size, params: {id: uint32}}
database:
  tables:
    notes:
      columns:
        id: {type: uint32, primary_key: true}
        message: str
"""

BUFFS = """\
service: buffs
messages:
  PartyStatus:
    fields:
      party_id: uint32
    types:
      CREATED: {}
      LEFT:
        force: bool
consumes:
  EVENT_TOPIC_PARTY_STATUS:
    message: PartyStatus
    handlers: {CREATED: buffs_logic.parties:created, LEFT: buffs_logic.parties:left}
"""

_WALLET_MESSAGES = """\
messages:
  WalletCommand:
    fields: {transaction_id: uuid, character_id: uint32}
    types: {RESERVE: {}, RELEASE: {}, SETTLE: {}}
  WalletStatus:
    fields: {transaction_id: uuid, character_id: uint32}
    types: {RESERVED: {}, SETTLED: {}}
"""

ORCHESTRATOR = (
    """\
service: orchestrator
models:
  PurchaseData:
    character_id: uint32
"""
    + _WALLET_MESSAGES
    + """\
sagas:
  purchase:
    data: PurchaseData
    steps:
      - name: reserve
        action: {topic: COMMAND_TOPIC_WALLET, message: WalletCommand, type: RESERVE}
        completion: {topic: EVENT_TOPIC_WALLET_STATUS, message: WalletStatus, success: [RESERVED]}
        compensation: {topic: COMMAND_TOPIC_WALLET, message: WalletCommand, type: RELEASE}
      - name: settle
        action: {topic: COMMAND_TOPIC_WALLET, message: WalletCommand, type: SETTLE}
        completion: {topic: EVENT_TOPIC_WALLET_STATUS, message: WalletStatus, success: [SETTLED]}
        compensation: none
database:
  outbox: true
"""
)

WALLET = (
    "service: wallet\n"
    + _WALLET_MESSAGES
    + """\
consumes:
  COMMAND_TOPIC_WALLET:
    message: WalletCommand
    handlers: {RESERVE: wallet_logic:reserve, RELEASE: wallet_logic:release, SETTLE: wallet_logic:settle}
produces:
  EVENT_TOPIC_WALLET_STATUS: {message: WalletStatus, key: character_id}
"""
)

BASE = {
    "parties.yaml": PARTIES,
    "buffs.yaml": BUFFS,
    "orchestrator.yaml": ORCHESTRATOR,
    "wallet.yaml": WALLET,
}

RESERVE_STEP = """\
      - name: reserve
        action: {topic: COMMAND_TOPIC_WALLET, message: WalletCommand, type: RESERVE}
        completion: {topic: EVENT_TOPIC_WALLET_STATUS, message: WalletStatus, success: [RESERVED]}
        compensation: {topic: COMMAND_TOPIC_WALLET, message: WalletCommand, type: RELEASE}
"""
SETTLE_STEP = """\
      - name: settle
        action: {topic: COMMAND_TOPIC_WALLET, message: WalletCommand, type: SETTLE}
        completion: {topic: EVENT_TOPIC_WALLET_STATUS, message: WalletStatus, success: [SETTLED]}
        compensation: none
"""
LEFT = "      LEFT:\n        force: bool\n"

Edit = tuple[str, str, str]
"""(spec file, text in it, its replacement)."""


def _edited(specs: dict[str, str], edits: tuple[Edit, ...]) -> dict[str, str]:
    edited = dict(specs)
    for file, before, after in edits:
        assert before in edited[file], f"{before!r} is not in {file}"
        edited[file] = edited[file].replace(before, after)
    return edited


def _write(folder: Path, specs: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in specs.items():
        (folder / name).write_text(text)
    return folder


def _findings(tmp_path: Path, old: dict[str, str], new: dict[str, str]) -> list[Diagnostic]:
    old_ecosystem, old_diagnostics = load_ecosystem(_write(tmp_path / "old", old))
    new_ecosystem, new_diagnostics = load_ecosystem(_write(tmp_path / "new", new))
    assert old_ecosystem is not None, [d.format() for d in old_diagnostics]
    assert new_ecosystem is not None, [d.format() for d in new_diagnostics]
    return breaking_changes(old_ecosystem, new_ecosystem)


def _position(text: str, anchor: str, offset: int = 0) -> tuple[int, int]:
    """The 1-based line and column of `anchor` (which must be unique) in `text`, plus `offset`."""
    assert text.count(anchor) == 1, f"{anchor!r} is not unique"
    index = text.index(anchor) + offset
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


@dataclass(frozen=True)
class Case:
    """An edit of the base ecosystem and the finding it must produce.

    Attributes:
        id: the test id.
        edits: edits making the new version.
        code: the code checked; reported in `file` at `anchor` (+ `offset` characters).
        severity: its expected severity.
        file: the spec file it is reported in.
        anchor: text of the new spec where it points.
        offset: characters into `anchor`.
        codes: every code reported (default: just `code`).
        old_edits: edits of the old version (default: none).
    """

    id: str
    edits: tuple[Edit, ...]
    code: str
    severity: str
    file: str
    anchor: str
    offset: int = 0
    codes: frozenset[str] = frozenset()
    old_edits: tuple[Edit, ...] = ()


def _both(before: str, after: str) -> tuple[Edit, ...]:
    return (("parties.yaml", before, after), ("buffs.yaml", before, after))


CASES = [
    # Messages on a topic, both directions.
    Case(
        "message-type-removed",
        (("parties.yaml", LEFT, ""),),
        "B001",
        "error",
        "parties.yaml",
        "    types:",
        offset=4,
    ),
    Case(
        "message-field-removed",
        _both(LEFT, "      LEFT: {}\n"),
        "B002",
        "error",
        "parties.yaml",
        "      LEFT: {}",
        offset=6,
    ),
    Case(
        "message-field-type-sent",
        _both("        force: bool\n", "        force: str\n"),
        "B003",
        "error",
        "parties.yaml",
        "force: str",
        offset=7,
    ),
    Case(
        "message-field-required",
        _both("        force: bool\n", "        force: bool\n        reason: str\n"),
        "B004",
        "error",
        "buffs.yaml",
        "reason: str",
    ),
    Case(
        "message-type-unread",
        (
            ("parties.yaml", LEFT, ""),
            ("buffs.yaml", LEFT, ""),
            ("buffs.yaml", ", LEFT: buffs_logic.parties:left", ""),
        ),
        "B005",
        "warning",
        "buffs.yaml",
        "    types:",
        offset=4,
        codes=frozenset({"B001", "B005"}),
    ),
    Case(
        "topic-no-longer-produced",
        (
            (
                "parties.yaml",
                "produces:\n  EVENT_TOPIC_PARTY_STATUS: {message: PartyStatus, key: party_id}\n",
                "",
            ),
        ),
        "B006",
        "warning",
        "parties.yaml",
        "service: parties",
    ),
    # Stored state.
    Case(
        "registry-key-type",
        (("parties.yaml", "  parties:\n    key: uint32", "  parties:\n    key: str"),),
        "B010",
        "error",
        "parties.yaml",
        "key: str",
        offset=5,
        codes=frozenset({"B010", "B031"}),
    ),
    Case(
        "registry-removed",
        (
            (
                "parties.yaml",
                "  archive:\n    kind: ttl\n    key: uint32\n    value: Party\n    ttl: 30s\n",
                "",
            ),
        ),
        "B011",
        "warning",
        "parties.yaml",
        "state:",
    ),
    Case(
        "registry-kind",
        (
            (
                "parties.yaml",
                "    kind: ttl\n    key: uint32\n    value: Party\n    ttl: 30s\n",
                "    kind: registry\n    key: uint32\n    value: Party\n",
            ),
        ),
        "B012",
        "error",
        "parties.yaml",
        "kind: registry",
        offset=6,
    ),
    Case(
        "registry-scope",
        (("parties.yaml", "    ttl: 30s\n", "    ttl: 30s\n    scope: global\n"),),
        "B013",
        "error",
        "parties.yaml",
        "global",
    ),
    Case(
        "stored-field-required",
        (
            (
                "parties.yaml",
                "    leader_id: uint32\n  PartyCreate:",
                "    leader_id: uint32\n    level: uint16\n  PartyCreate:",
            ),
        ),
        "B014",
        "error",
        "parties.yaml",
        "level: uint16",
    ),
    Case(
        "stored-field-type",
        (("parties.yaml", "    leader_id: uint32\n  PartyCreate:", "    leader_id: str\n  PartyCreate:"),),
        "B015",
        "error",
        "parties.yaml",
        "leader_id: str",
        offset=11,
        codes=frozenset({"B015", "B034"}),
    ),
    Case(
        "stored-field-removed",
        (("parties.yaml", "    id: uint32\n    leader_id: uint32\n", "    id: uint32\n"),),
        "B016",
        "warning",
        "parties.yaml",
        "  Party:",
        offset=2,
        codes=frozenset({"B016", "B034"}),
    ),
    # Database tables.
    Case(
        "column-type",
        (("parties.yaml", "        message: str\n", "        message: int\n"),),
        "B020",
        "error",
        "parties.yaml",
        "message: int",
        offset=9,
    ),
    Case(
        "column-not-null",
        (),
        "B020",
        "error",
        "parties.yaml",
        "        message: str",
        offset=8,
        old_edits=(
            ("parties.yaml", "        message: str\n", "        message: {type: str, nullable: true}\n"),
        ),
    ),
    Case(
        "column-required",
        (("parties.yaml", "        message: str\n", "        message: str\n        score: int\n"),),
        "B021",
        "error",
        "parties.yaml",
        "score: int",
    ),
    Case(
        "column-removed",
        (("parties.yaml", "        message: str\n", ""),),
        "B022",
        "warning",
        "parties.yaml",
        "      columns:",
        offset=6,
    ),
    Case(
        "table-removed",
        (("parties.yaml", PARTIES[PARTIES.index("  tables:") :], "  outbox: false\n"),),
        "B023",
        "warning",
        "parties.yaml",
        "database:",
    ),
    Case(
        "primary-key",
        (("parties.yaml", "    notes:\n", "    notes:\n      tenant_scoped: false\n"),),
        "B024",
        "error",
        "parties.yaml",
        "    notes:",
        offset=4,
    ),
    # Endpoints.
    Case(
        "endpoint-removed",
        (("parties.yaml", "  /parties/{id}:\n    get: {get: parties}\n", ""),),
        "B030",
        "error",
        "parties.yaml",
        "endpoints:",
    ),
    Case(
        "path-parameter-type",
        (("parties.yaml", "params: {id: uint32}", "params: {id: str}"),),
        "B031",
        "error",
        "parties.yaml",
        "{id: str}",
        offset=5,
    ),
    Case(
        "body-field-required",
        (
            (
                "parties.yaml",
                "  PartyCreate:\n    leader_id: uint32\n",
                "  PartyCreate:\n    leader_id: uint32\n    name: str\n",
            ),
        ),
        "B032",
        "error",
        "parties.yaml",
        "name: str",
    ),
    Case(
        "body-field-type",
        (
            (
                "parties.yaml",
                "  PartyCreate:\n    leader_id: uint32\n",
                "  PartyCreate:\n    leader_id: str\n",
            ),
        ),
        "B033",
        "error",
        "parties.yaml",
        "leader_id: str",
        offset=11,
    ),
    Case(
        "response-removed",
        (("parties.yaml", ", returns: Party}", "}"),),
        "B034",
        "error",
        "parties.yaml",
        "post:",
    ),
    Case(
        "endpoint-scopes",
        (("parties.yaml", "    get: {get: parties}", "    get: {get: parties, scopes: [parties:read]}"),),
        "B035",
        "warning",
        "parties.yaml",
        "[parties:read]",
    ),
    # Services.
    Case(
        "wire-case",
        (
            ("buffs.yaml", "service: buffs\n", "service: buffs\nwire_case: camel\n"),
            ("parties.yaml", "service: parties\n", "service: parties\nwire_case: camel\n"),
        ),
        "B041",
        "error",
        "buffs.yaml",
        "camel",
    ),
    Case(
        "consumer-group",
        (("buffs.yaml", "service: buffs\n", "service: buffs\nconsumer_group: Buff Service\n"),),
        "B042",
        "warning",
        "buffs.yaml",
        "Buff Service",
    ),
    # Sagas.
    Case(
        "saga-removed",
        (
            (
                "orchestrator.yaml",
                ORCHESTRATOR[ORCHESTRATOR.index("sagas:") : ORCHESTRATOR.index("database:")],
                "",
            ),
        ),
        "B050",
        "warning",
        "orchestrator.yaml",
        "service: orchestrator",
        codes=frozenset({"B050", "B006"}),
    ),
    Case(
        "saga-step-removed",
        (("orchestrator.yaml", SETTLE_STEP, ""),),
        "B051",
        "warning",
        "orchestrator.yaml",
        "    steps:",
        offset=4,
    ),
    Case(
        "saga-step-added",
        (
            (
                "orchestrator.yaml",
                SETTLE_STEP,
                SETTLE_STEP + SETTLE_STEP.replace("name: settle", "name: confirm"),
            ),
        ),
        "B052",
        "warning",
        "orchestrator.yaml",
        "name: confirm",
    ),
    Case(
        "saga-steps-reordered",
        (("orchestrator.yaml", RESERVE_STEP + SETTLE_STEP, SETTLE_STEP + RESERVE_STEP),),
        "B052",
        "warning",
        "orchestrator.yaml",
        "    steps:",
        offset=4,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_rule_reports_the_change_where_it_is(tmp_path: Path, case: Case) -> None:
    """Each rule fires with its code and severity, located in the new spec (or its nearest parent)."""
    new = _edited(BASE, case.edits)
    findings = _findings(tmp_path, _edited(BASE, case.old_edits), new)
    assert {finding.code for finding in findings} == (case.codes or {case.code}), [
        f.format() for f in findings
    ]
    line, column = _position(new[case.file], case.anchor, case.offset)
    located = [(f.file, f.line, f.column, f.severity) for f in findings if f.code == case.code]
    assert (str(tmp_path / "new" / case.file), line, column, case.severity) in located, located


def test_both_ends_of_a_retyped_field_are_reported(tmp_path: Path) -> None:
    """A field retyped on both ends breaks old consumers and the new consumer."""
    new = _edited(BASE, _both("        force: bool\n", "        force: str\n"))
    findings = [f for f in _findings(tmp_path, BASE, new) if f.code == "B003"]
    assert [Path(f.file).name for f in findings] == ["buffs.yaml", "parties.yaml"]
    assert "is now read as `str`, but old `parties` sends `bool`" in findings[0].message
    assert "is now sent on `EVENT_TOPIC_PARTY_STATUS` as `str`, which old `buffs`" in findings[1].message


def test_removed_service_is_reported_in_its_old_file(tmp_path: Path) -> None:
    """A service that is gone is a warning at its `service:` value in the old file."""
    new = {name: text for name, text in BASE.items() if name != "buffs.yaml"}
    findings = _findings(tmp_path, BASE, new)
    assert [(f.code, f.severity, f.file, f.line, f.column) for f in findings] == [
        ("B040", "warning", str(tmp_path / "old" / "buffs.yaml"), 1, 10)
    ]


def test_a_producer_alone_compares_with_its_old_message(tmp_path: Path) -> None:
    """With no consumer in the folder, the old message stands in for the consumers."""
    old = {"parties.yaml": PARTIES}
    new = _edited(old, (("parties.yaml", LEFT, "      LEFT: {}\n"),))
    findings = _findings(tmp_path, old, new)
    assert [f.code for f in findings] == ["B002"]
    assert findings[0].message == (
        "`LEFT` body field `force` of `PartyStatus` is no longer sent on `EVENT_TOPIC_PARTY_STATUS`, "
        "but its consumers declare it without a default"
    )


def test_a_consumer_alone_compares_with_its_old_message(tmp_path: Path) -> None:
    """With no producer in the folder, a field the old consumer had a default for may not be sent."""
    old = _edited(
        {"buffs.yaml": BUFFS}, (("buffs.yaml", "force: bool", "force: {type: bool, default: false}"),)
    )
    new = {"buffs.yaml": BUFFS}
    findings = _findings(tmp_path, old, new)
    assert [(f.code, f.line, f.column) for f in findings] == [("B004", *_position(BUFFS, "force: bool"))]
    assert "may not send it" in findings[0].message


def test_models_are_compared_by_structure(tmp_path: Path) -> None:
    """A model in a message is compared field by field: a field it loses is a type change, shown by shape."""
    spec = """\
service: maps
models:
  Point: {x: int, y: int}
messages:
  Moved:
    types:
      MOVED: {to: Point}
produces:
  EVENT_TOPIC_MOVED: {message: Moved}
"""
    renamed = spec.replace("Point", "Spot")
    assert _findings(tmp_path / "renamed", {"maps.yaml": spec}, {"maps.yaml": renamed}) == []
    smaller = spec.replace("{x: int, y: int}", "{x: int}")
    [finding] = _findings(tmp_path / "smaller", {"maps.yaml": spec}, {"maps.yaml": smaller})
    assert finding.code == "B003"
    assert (finding.line, finding.column) == _position(smaller, "Point}", 0)
    assert "as `{x: int}`, which its consumers (reading `{x: int, y: int}`) cannot decode" in finding.message


def test_a_reader_may_widen_a_field_to_optional(tmp_path: Path) -> None:
    """A consumer reading `bool?` where `bool` was read accepts everything sent before; the reverse breaks."""
    widened = BUFFS.replace("force: bool", "force: bool?")
    assert _findings(tmp_path / "wider", {"buffs.yaml": BUFFS}, {"buffs.yaml": widened}) == []
    narrowed = _findings(tmp_path / "narrower", {"buffs.yaml": widened}, {"buffs.yaml": BUFFS})
    assert [finding.code for finding in narrowed] == ["B004"]


SAFE = {
    "optional-message-field": _both("        force: bool\n", "        force: bool\n        reason: str?\n"),
    "message-field-with-default": _both(
        "        force: bool\n", "        force: bool\n        n: {type: int, default: 0}\n"
    ),
    "new-message-type": _both("      CREATED: {}\n", "      CREATED: {}\n      JOINED: {}\n"),
    "renamed-consumer-message": (("buffs.yaml", "PartyStatus", "PartyEvent"),),
    "stored-field-with-default": (
        ("parties.yaml", "  PartyCreate:", "    level: {type: uint16, default: 1}\n  PartyCreate:"),
    ),
    "optional-body-field": (
        ("parties.yaml", "    leader_id: uint32\nstate:", "    leader_id: uint32\n    name: str?\nstate:"),
    ),
    "new-endpoint": (
        (
            "parties.yaml",
            "database:",
            "  /members:\n    get: {handler: parties_logic.rest:members}\ndatabase:",
        ),
    ),
    "renamed-path-parameter": (("parties.yaml", "/parties/{id}:", "/parties/{party_id}:"),),
    "widened-body-integer": (
        ("parties.yaml", "    leader_id: uint32\nstate:", "    leader_id: uint64\nstate:"),
    ),
    "new-model-and-registry": (
        (
            "parties.yaml",
            "state:\n",
            "  Note:\n    id: uint32\nstate:\n  extra:\n    key: uint32\n    value: Note\n",
        ),
    ),
    "new-nullable-column-and-table": (
        (
            "parties.yaml",
            "        message: str\n",
            "        message: str\n        seen: {type: bool, nullable: true}\n"
            "        score: {type: int, default: 0}\n"
            "    tags:\n      columns:\n        id: {type: uint32, primary_key: true}\n        name: str\n",
        ),
    ),
    "saga-timeout": (
        ("orchestrator.yaml", "    data: PurchaseData\n", "    data: PurchaseData\n    timeout: 1m\n"),
    ),
}


@pytest.mark.parametrize("edits", SAFE.values(), ids=SAFE.keys())
def test_safe_changes_report_nothing(tmp_path: Path, edits: tuple[Edit, ...]) -> None:
    """Optional fields, fields with defaults, new types, endpoints, registries and tables break nothing."""
    assert _findings(tmp_path, BASE, _edited(BASE, edits)) == []


def test_the_same_specs_report_nothing(tmp_path: Path) -> None:
    """Comparing a folder with itself, the example ecosystem included, finds nothing."""
    assert _findings(tmp_path, BASE, BASE) == []
    ecosystem, _ = load_ecosystem(ROOT / "specs")
    assert ecosystem is not None
    assert breaking_changes(ecosystem, ecosystem) == []


# --- the command line ----------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_breaking.register(app)

    @app.callback()
    def _root() -> None:
        """A group, so the verb is named on the command line as in `atlas-gen`."""

    return app


def _run(*args: str) -> Result:
    return CliRunner().invoke(_app(), ["breaking", *args])


def test_text_output_and_exit_one_on_breaking_changes(tmp_path: Path) -> None:
    """One `file:line:col: severity[code]: message` line per finding, then the summary; exit 1."""
    edited = _edited(BASE, (("parties.yaml", "        message: str\n", "        message: int\n"),))
    old, new = _write(tmp_path / "old", BASE), _write(tmp_path / "new", edited)
    result = _run("--specs", str(new), "--old", str(old))
    assert result.exit_code == 1, result.output
    line, column = _position(edited["parties.yaml"], "message: int", 9)
    assert result.output.splitlines() == [
        f"{new / 'parties.yaml'}:{line}:{column}: error[B020]: column `message` of `notes` changes type "
        "from `str` to `int`",
        "1 breaking change, 0 warnings",
    ]


def test_warnings_alone_exit_zero(tmp_path: Path) -> None:
    """Risky changes are printed, but the exit code stays 0."""
    old = _write(tmp_path / "old", BASE)
    new = _write(tmp_path / "new", _edited(BASE, (("parties.yaml", "        message: str\n", ""),)))
    result = _run("--specs", str(new), "--old", str(old))
    assert result.exit_code == 0, result.output
    assert "warning[B022]" in result.output
    assert result.output.splitlines()[-1] == "no breaking changes, 1 warning"


def test_json_output_has_the_validate_shape(tmp_path: Path) -> None:
    """`--format json` prints the document of `validate --format json`."""
    old = _write(tmp_path / "old", BASE)
    new = _write(
        tmp_path / "new", _edited(BASE, (("parties.yaml", "params: {id: uint32}", "params: {id: str}"),))
    )
    result = _run("--specs", str(new), "--old", str(old), "--format", "json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.output)
    assert set(document) == {"diagnostics", "errors", "warnings"}
    assert (document["errors"], document["warnings"]) == (1, 0)
    [diagnostic] = document["diagnostics"]
    assert diagnostic["code"] == "B031" and diagnostic["severity"] == "error"
    assert set(diagnostic) == {"file", "line", "column", "severity", "code", "message", "expected"}


@pytest.mark.parametrize("version", ["old", "new"])
def test_spec_errors_in_either_version_exit_two(tmp_path: Path, version: str) -> None:
    """A version with spec errors is named, its errors printed, and the exit code is 2."""
    broken = _edited(BASE, (("parties.yaml", "service: parties\n", "service: parties\nreplicas: many\n"),))
    old = _write(tmp_path / "old", broken if version == "old" else BASE)
    new = _write(tmp_path / "new", broken if version == "new" else BASE)
    result = _run("--specs", str(new), "--old", str(old))
    assert result.exit_code == 2
    assert f"the {version} specs (`{tmp_path / version}`) have errors" in result.output
    assert f"{tmp_path / version / 'parties.yaml'}:2:11: error[E012]" in result.output


@pytest.mark.parametrize("options", [[], ["--against", "HEAD", "--old", "."]], ids=["neither", "both"])
def test_exactly_one_old_version_is_required(tmp_path: Path, options: list[str]) -> None:
    """Neither or both of `--against` and `--old` is a usage error."""
    result = _run("--specs", str(_write(tmp_path, BASE)), *options)
    assert result.exit_code == 2
    assert "exactly one of `--against REV` or `--old DIR`" in result.output


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=atlas", "-c", "user.email=atlas@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def test_against_a_git_revision(tmp_path: Path) -> None:
    """`--against HEAD` reads the committed specs; a removed service is shown as `HEAD:path`."""
    specs = _write(tmp_path / "specs", BASE)
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "specs")
    _git(tmp_path, "commit", "-q", "-m", "v1")
    assert _run("--specs", str(specs), "--against", "HEAD").exit_code == 0
    (specs / "buffs.yaml").unlink()
    edited = PARTIES.replace("params: {id: uint32}", "params: {id: str}")
    (specs / "parties.yaml").write_text(edited)
    result = _run("--specs", str(specs), "--against", "HEAD")
    assert result.exit_code == 1, result.output
    *findings, summary = result.output.splitlines()
    assert summary == "1 breaking change, 1 warning"
    line, column = _position(edited, "{id: str}", 5)
    assert f"{specs / 'parties.yaml'}:{line}:{column}: error[B031]: path parameter `id`" in result.output
    assert "HEAD:specs/buffs.yaml:1:10: warning[B040]: service `buffs` is removed" in result.output
    assert len(findings) == 2


def test_against_a_bad_revision_or_one_without_specs_exits_two(tmp_path: Path) -> None:
    """An unknown revision, or one without spec files in the folder, is a usage error."""
    specs = _write(tmp_path / "specs", BASE)
    _git(tmp_path, "init", "-q")
    (tmp_path / "README").write_text("v1\n")
    _git(tmp_path, "add", "README")
    _git(tmp_path, "commit", "-q", "-m", "v1")
    unknown = _run("--specs", str(specs), "--against", "no-such-branch")
    assert unknown.exit_code == 2
    assert "git ls-tree failed" in unknown.output
    empty = _run("--specs", str(specs), "--against", "HEAD")
    assert empty.exit_code == 2
    assert "no spec files" in empty.output and "at `HEAD`" in empty.output


def test_old_revision_spec_errors_name_the_revision(tmp_path: Path) -> None:
    """Errors in the committed specs are shown at `REV:path` and exit 2."""
    specs = _write(tmp_path / "specs", {"parties.yaml": "service: parties\nreplicas: many\n"})
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "specs")
    _git(tmp_path, "commit", "-q", "-m", "v1")
    (specs / "parties.yaml").write_text(PARTIES)
    result = _run("--specs", str(specs), "--against", "HEAD")
    assert result.exit_code == 2
    assert "the old specs" in result.output
    assert "HEAD:specs/parties.yaml:2:11: error[E012]" in result.output


def test_docs_list_every_code_with_its_severity() -> None:
    """The `atlas-gen breaking` section of docs/cli.md has a row per code: name and severity."""
    text = (ROOT / "docs" / "cli.md").read_text()
    section = text[text.index("## `atlas-gen breaking`") :]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 4 and cells[1][:1] == "B" and cells[1][1:].isdigit():
            rows[cells[1]] = (cells[2], cells[3])
    assert rows == {
        code: (name, "warning" if code in RISKY else "error") for code, name in BREAKING_CODES.items()
    }
