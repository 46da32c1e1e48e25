"""Saga specs of the tests, written the way a service spec declares them (as data)."""

from __future__ import annotations

from typing import Any

from atlas_runtime.saga import SagaDefinition, definitions_from_service
from atlas_spec import ServiceSpec

WORK_TOPICS = ("COMMAND_TOPIC_STOCK", "COMMAND_TOPIC_WALLET", "COMMAND_TOPIC_SHIPPING")
STATUS_TOPICS = ("EVENT_TOPIC_STOCK_STATUS", "EVENT_TOPIC_WALLET_STATUS", "EVENT_TOPIC_SHIPPING_STATUS")
# One status topic per step position: a participant that cannot echo `SAGA_STEP` (a generated
# service) still has its answers matched to exactly one step (see `saga(own_status=True)`).
STEP_STATUS_TOPICS = tuple(f"EVENT_TOPIC_S{i}_STATUS" for i in range(1, 6))
ORDER_STATUS = "EVENT_TOPIC_ORDER_STATUS"
ORDER_TRIGGER = "COMMAND_TOPIC_ORDER"
TOKENS = (*WORK_TOPICS, *STATUS_TOPICS, *STEP_STATUS_TOPICS, ORDER_STATUS, ORDER_TRIGGER)

PLACED = {"three": 3, "four": 4, "five": 5}

MESSAGES: dict[str, Any] = {
    "Work": {
        "fields": {"transaction_id": "uuid"},
        "types": {
            "DO": {"order_id": "uint32", "amount": "int", "fail_step": "str?", "prev": "str?"},
            "UNDO": {"order_id": "uint32", "receipt": "str"},
        },
    },
    "WorkStatus": {
        "fields": {"transaction_id": "uuid"},
        "types": {"DONE": {"receipt": "str"}, "REFUSED": {"error_code": "str?"}},
    },
    "OrderStatus": {
        "fields": {"transaction_id": "uuid"},
        "types": {
            "COMPLETED": {"saga_type": "str", "order_id": "uint32"},
            "FAILED": {"saga_type": "str", "reason": "str", "error_code": "str", "failed_step": "str?"},
        },
    },
    "OrderCommand": {
        "fields": {"transaction_id": "uuid"},
        "types": {
            f"PLACE{n}": {"order_id": "uint32", "amount": "int", "fail_step": "str?"} for n in (3, 4, 5)
        },
    },
}


def step(
    index: int, *, compensation: Any = "undo", timeout: str | None = None, own_status: bool = False
) -> dict[str, Any]:
    """Step `s<index>`: DO on one of three participants, undone by UNDO with its own receipt.

    Its completion arrives on the participant's status topic, shared with the step three
    places away, or with `own_status` on the topic of its position alone.
    """
    name = f"s{index}"
    topic = WORK_TOPICS[(index - 1) % 3]
    status = STEP_STATUS_TOPICS[index - 1] if own_status else STATUS_TOPICS[(index - 1) % 3]
    action: dict[str, Any] = {"topic": topic, "message": "Work", "type": "DO"}
    if index > 1:
        action["set"] = {"prev": f"steps.s{index - 1}.receipt"}
    spec: dict[str, Any] = {
        "name": name,
        "action": action,
        "completion": {"topic": status, "message": "WorkStatus", "success": ["DONE"], "failure": ["REFUSED"]},
    }
    if compensation == "undo":
        spec["compensation"] = {
            "topic": topic,
            "message": "Work",
            "type": "UNDO",
            "set": {"receipt": f"steps.{name}.receipt"},
        }
    elif compensation is not None:
        spec["compensation"] = compensation
    if timeout:
        spec["timeout"] = timeout
    return spec


def saga(
    steps: int, *, timeout: str | None = None, own_status: bool = False, **overrides: Any
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "data": "Order",
        "steps": [step(i, own_status=own_status) for i in range(1, steps + 1)],
        "events": {"topic": ORDER_STATUS, "message": "OrderStatus"},
        **overrides,
    }
    if timeout:
        spec["timeout"] = timeout
    return spec


def service_document(
    sagas: dict[str, Any], *, name: str = "orders", wire_case: str = "declared"
) -> dict[str, Any]:
    """The spec (as YAML would load it) of an orchestrator service declaring `sagas`."""
    return {
        "service": name,
        "wire_case": wire_case,
        "models": {"Order": {"order_id": "uint32", "amount": "int", "fail_step": "str?"}},
        "messages": MESSAGES,
        "sagas": sagas,
    }


def service(sagas: dict[str, Any], *, wire_case: str = "declared") -> ServiceSpec:
    return ServiceSpec.model_validate(service_document(sagas, wire_case=wire_case))


def trigger(steps: int) -> dict[str, str]:
    return {"topic": ORDER_TRIGGER, "message": "OrderCommand", "type": f"PLACE{steps}"}


def order_sagas(*, own_status: bool = False) -> dict[str, Any]:
    """`three`, `four` and `five`: 3, 4 and 5 steps, triggered by PLACE3/4/5."""
    return {name: saga(n, own_status=own_status, trigger=trigger(n)) for name, n in PLACED.items()}


def order_definitions(**sagas: Any) -> dict[str, SagaDefinition]:
    """The definitions of `order_sagas()` plus any `sagas` given."""
    return definitions_from_service(service({**order_sagas(), **sagas}))


def topics_for(suffix: str) -> dict[str, str]:
    """Token -> a unique real topic name per test."""
    return {token: f"{token.lower().replace('_', '-')}-{suffix}" for token in TOKENS}
