"""A generated orchestrator runs its saga types: start over REST, commands out, status events in."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from atlas_runtime.messaging import OutboundMessage, default_broker
from atlas_runtime.service import Service, ServiceDescription
from atlas_runtime.tenant import Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SPEC = """
service: fn-purchases
models:
  PurchaseData: {character_id: uint32, item_id: uint32, price: uint32}
messages:
  WalletCommand:
    fields: {transaction_id: uuid, character_id: uint32}
    types:
      RESERVE: {amount: uint32}
      RELEASE: {reservation_id: uint64}
  WalletStatus:
    fields: {transaction_id: uuid, character_id: uint32}
    types:
      RESERVED: {reservation_id: uint64}
      INSUFFICIENT: {}
  InventoryCommand:
    fields: {transaction_id: uuid, character_id: uint32}
    types:
      GRANT: {item_id: uint32}
  InventoryStatus:
    fields: {transaction_id: uuid, character_id: uint32}
    types:
      GRANTED: {slot: uint16}
sagas:
  SAGA_TYPE:
    data: PurchaseData
    timeout: 30s
    steps:
      - name: reserve
        action: {topic: CMD_W, message: WalletCommand, type: RESERVE, set: {amount: data.price}}
        completion: {topic: EVT_W, message: WalletStatus, success: [RESERVED], failure: [INSUFFICIENT]}
        compensation:
          topic: CMD_W
          message: WalletCommand
          type: RELEASE
          set: {reservation_id: steps.reserve.reservation_id}
      - name: grant
        action: {topic: CMD_I, message: InventoryCommand, type: GRANT}
        completion: {topic: EVT_I, message: InventoryStatus, success: [GRANTED]}
        compensation: none
database:
  outbox: true
"""

# The other end of the saga's topics, so the two specs validate as one ecosystem (never started).
PARTICIPANT = (
    SPEC.split("sagas:")[0].replace("fn-purchases", "fn-purchase-participant")
    + """
consumes:
  CMD_W: {message: WalletCommand, handlers: {RESERVE: fn_participant_logic.wallet:reserve}}
  CMD_I: {message: InventoryCommand, handlers: {GRANT: fn_participant_logic.inventory:grant}}
produces:
  EVT_W: {message: WalletStatus, key: character_id}
  EVT_I: {message: InventoryStatus, key: character_id}
"""
)


async def _records(topic: str, saga_id: str, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The commands of one saga on a topic of the in-process bus, once there is at least one."""
    broker = default_broker()
    for _ in range(int(timeout / 0.05)):
        found = [json.loads(r.value or b"{}") for r in broker.records(topic)]
        mine = [command for command in found if command.get("transaction_id") == saga_id]
        if mine:
            return mine
        await asyncio.sleep(0.05)
    raise AssertionError(f"no command of saga {saga_id} on {topic}")


async def test_saga_starts_over_rest_and_advances_on_status_events(
    build_service: Callable[[str, dict[str, str]], ServiceDescription],
    monkeypatch: pytest.MonkeyPatch,
    db_env: dict[str, str],
    tenant_headers: Callable[[], dict[str, str]],
) -> None:
    """POST /api/sagas sends step 1's command; its success event makes the orchestrator send step 2's."""
    suffix = uuid.uuid4().hex[:8]
    topics = {token: f"fn-{token.lower()}-{suffix}" for token in ("CMD_W", "EVT_W", "CMD_I", "EVT_I")}
    for name, value in {**db_env, **topics}.items():
        monkeypatch.setenv(name, value)
    for name in ("REDIS_URL", "BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AUTH_MODE", "off")
    monkeypatch.setenv("KAFKA_CONSUMER_GROUP", f"fn-purchases-{suffix}")
    saga_type = f"purchase_{suffix}"
    build_service(PARTICIPANT, {})
    service = Service(build_service(SPEC.replace("SAGA_TYPE", saga_type), {}))
    headers = tenant_headers()
    tenant = Tenant.from_http_headers(headers)
    app = service.create_app()
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        start = {
            "data": {
                "type": "sagas",
                "attributes": {
                    "sagaType": saga_type,
                    "data": {"character_id": 7, "item_id": 42, "price": 300},
                },
            }
        }
        created = await http.post("/api/sagas", json=start, headers=headers)
        assert created.status_code == 201, created.text
        saga_id = created.json()["data"]["id"]
        reserve = (await _records(topics["CMD_W"], saga_id))[0]
        assert reserve["type"] == "RESERVE" and reserve["body"] == {"amount": 300}
        status = {
            "type": "RESERVED",
            "transaction_id": saga_id,
            "character_id": 7,
            "body": {"reservation_id": 9},
        }
        await default_broker().append(
            OutboundMessage(topics["EVT_W"], b"7", json.dumps(status).encode(), tenant.kafka_headers())
        )
        grant = (await _records(topics["CMD_I"], saga_id))[0]
        assert grant["type"] == "GRANT" and grant["body"] == {"item_id": 42}
        shown = await http.get(f"/api/sagas/{saga_id}", headers=headers)
        assert shown.status_code == 200
