"""The generated services of the acceptance test: a fake participant and the orchestrator.

Both are specs written as YAML into a folder, rendered by the real `atlas-gen render`
CLI and run as `python -m <package>`, each replica its own OS process:

- `saga-participant` consumes the three work topics; its handlers
  (`saga_participant_handlers`) answer DO commands, refusing some, and record DO and
  UNDO commands in its own table `participant_effects`;
- `saga-orders` declares the `three`, `four` and `five` saga types of `specs.py`,
  triggered by PLACE3/4/5 commands, each step completing on its own status topic.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from atlas_spec import ServiceSpec

from .specs import MESSAGES, STEP_STATUS_TOPICS, WORK_TOPICS, order_sagas, service_document

PARTICIPANT = "saga-participant"
ORCHESTRATOR = "saga-orders"
HANDLERS = Path(__file__).with_name("saga_participant_handlers.py")


def participant_document() -> dict[str, Any]:
    """The participant's spec: DO and UNDO on every work topic, answers on every step's status topic."""
    handlers = {"DO": f"{HANDLERS.stem}:do", "UNDO": f"{HANDLERS.stem}:undo"}
    columns = {
        "id": {"type": "uuid", "primary_key": True},
        "event_id": "str",
        "saga_id": "str",
        "step": "str",
        "kind": "str",
        "correct": "bool",
    }
    return {
        "service": PARTICIPANT,
        "messages": {name: MESSAGES[name] for name in ("Work", "WorkStatus")},
        "consumes": {token: {"message": "Work", "handlers": handlers} for token in WORK_TOPICS},
        "produces": {
            token: {"message": "WorkStatus", "key": "transaction_id"} for token in STEP_STATUS_TOPICS
        },
        "database": {
            "tables": {"participant_effects": {"columns": columns, "indexes": [["saga_id"]]}},
        },
    }


def orchestrator_document() -> dict[str, Any]:
    """The orchestrator's spec: the order saga types, their tables and outbox in its database."""
    return {**service_document(order_sagas(own_status=True), name=ORCHESTRATOR), "database": {"outbox": True}}


def package(document: dict[str, Any]) -> str:
    """The generated package of a spec document (`saga-orders` -> `atlas_saga_orders`)."""
    return ServiceSpec.model_validate(document).package


def render(folder: Path) -> dict[str, str]:
    """Write both specs under `folder/specs`, render them into `folder/out`; service -> package.

    Raises:
        AssertionError: `atlas-gen render` failed (its output is in the message).
    """
    specs = folder / "specs"
    specs.mkdir(parents=True)
    documents = {PARTICIPANT: participant_document(), ORCHESTRATOR: orchestrator_document()}
    for name, document in documents.items():
        (specs / f"{name}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    command = [sys.executable, "-m", "atlas_gen", "render", "--specs", "specs", "--out", "out"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"atlas-gen render failed:\n{done.stdout}{done.stderr}"
    return {name: package(document) for name, document in documents.items()}
