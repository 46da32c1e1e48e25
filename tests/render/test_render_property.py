"""Property test: a spec that passes `atlas-gen validate` renders code that imports and starts.

Hypothesis builds whole specs as Python dicts (models with varied field types, registries of
every kind with ids and indexes, locks, messages, consumed and produced topics, REST endpoints
over registries and handlers, tasks, now and then a database with the outbox, saga types, and
calls to a peer service written next to it), dumps them to YAML and drives the CLI in-process:
`validate` (invalid examples are discarded), `render`, and `scaffold` for stub handlers. The
generated package is imported and started on the embedded backends (in-process state and bus,
SQLite), and its health, registry and saga routes are probed. Cases the strategy once found
are pinned by plain tests at the end.
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import keyword
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, note, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from atlas_gen.cli import app
from atlas_runtime.service import ServiceDescription
from atlas_runtime.service.testing import running, tenant_headers
from atlas_spec import TypeRef, parse_type

LOGIC = "prop_logic"  # handler package placeholder; each example gets `prop_logic_<n>`
INTEGERS = {
    "int": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
SCALARS = ("bool", *INTEGERS, "float", "str", "uuid", "datetime")
INDEXABLE = frozenset({*INTEGERS, "str", "uuid", "datetime"})
KEYS = ("uint32", "str", "uuid")
MISSING_KEY = {"uint32": "4000000000", "str": "no-such-key", "uuid": "00000000-0000-4000-8000-000000000000"}

MODEL_NAMES = ("Party", "Member", "Invite", "Item", "Stat", "Spot", "Buff", "Drop", "Owner", "Pet", "Note")
MESSAGE_NAMES = ("PartyCommand", "PartyStatus", "ItemEvent", "DropCommand", "BuffStatus")
MESSAGE_TYPES = ("CREATE", "JOIN", "LEAVE", "CREATED", "UPDATED", "DELETED", "EXPIRED", "RENAME", "Moved")
REGISTRY_NAMES = ("parties", "members", "invites", "items", "drops", "buff-slots", "spots", "loot_tables")
LOCK_NAMES = ("party", "item-grant", "rename", "drop_claim")
TASK_NAMES = ("expire_invites", "sweep", "rebuild-ranking", "flush_stats")
TOPIC_WORDS = ("PARTY", "ITEM", "DROP", "BUFF_STATUS", "CHARACTER", "MAP_2")
# Plausible field names, some shadowing a stdlib module or a pydantic attribute (`uuid`, `json`).
FIELD_POOL = (
    "id",
    "name",
    "level",
    "owner_id",
    "party_id",
    "members",
    "tags",
    "created_at",
    "expires_at",
    "count",
    "amount",
    "status",
    "kind",
    "key",
    "value",
    "data",
    "items",
    "meta",
    "tenant_id",
    "world_id",
    "x",
    "y",
    "uuid",
    "type",
    "json",
    "schema",
    "copy",
    "self",
    "field",
    "annotations",
    # named like a type the generated class annotates (`str: str?` next to `tags: dict[str, int]`)
    "bool",
    "int",
    "float",
    "str",
    "list",
    "dict",
    "datetime",
    "Field",
)
# Field name -> a type it would hide in its own class, for the pinned cases below.
SHADOWING = {
    "bool": "bool?",
    "int": "int?",
    "float": "float?",
    "str": "str?",
    "list": "list[int]?",
    "dict": "dict[str, int]?",
    "datetime": "datetime?",
    "Field": "str?",
}
ENVELOPE_POOL = ("actor_id", "transaction_id", "party_id", "world_id", "character_id", "timestamp")


# -- strategies ---------------------------------------------------------------------------------


def _identifier(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("model_")


field_names = st.one_of(
    st.sampled_from(FIELD_POOL),
    st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
).filter(_identifier)

durations = st.one_of(
    st.integers(1, 900).map(lambda n: f"{n}ms"),
    st.integers(1, 90).map(lambda n: f"{n}s"),
    st.integers(1, 30).map(lambda n: f"{n}m"),
    st.sampled_from(["1.5s", "1h", "7d", "250ms"]),
)


def type_exprs(models: list[str], depth: int = 2) -> st.SearchStrategy[str]:
    """A type expression over the scalars and `models`, with containers up to `depth` deep."""
    leaves = st.sampled_from(SCALARS)
    if models:
        leaves = st.one_of(leaves, st.sampled_from(models))
    inner = leaves if depth == 0 else st.one_of(leaves, leaves, type_exprs(models, depth - 1))
    optional_inner = st.tuples(inner, st.booleans()).map(
        lambda p: p[0] if p[0].endswith("?") or not p[1] else p[0] + "?"
    )
    body = st.one_of(
        leaves,
        leaves,
        optional_inner.map(lambda t: f"list[{t}]"),
        optional_inner.map(lambda t: f"dict[str, {t}]"),
    )
    return st.tuples(body, st.integers(0, 3)).map(lambda p: p[0] + ("?" if p[1] == 0 else ""))


def _default_values(ref: TypeRef) -> st.SearchStrategy[Any] | None:
    """Plausible defaults for a field of type `ref` (None when the spec would not give one)."""
    scalar: st.SearchStrategy[Any] | None
    if ref.kind == "list":
        scalar = st.just([])
    elif ref.kind == "dict":
        scalar = st.just({})
    elif ref.name == "bool":
        scalar = st.booleans()
    elif ref.name in INTEGERS:
        low, high = INTEGERS[ref.name]
        scalar = st.integers(max(low, -1000), min(high, 100_000))
    elif ref.name == "float":
        scalar = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    elif ref.name == "str":
        scalar = st.text("abcxyz -_", max_size=8)
    else:
        scalar = None
    if ref.optional:
        return st.none() if scalar is None else st.one_of(st.none(), scalar)
    return scalar


@st.composite
def fields(draw: st.DrawFn, models: list[str], size: tuple[int, int] = (1, 5)) -> dict[str, Any]:
    """A mapping of fields: type shorthand strings or the `{type, default, ...}` form."""
    names = draw(st.lists(field_names, min_size=size[0], max_size=size[1], unique=True))
    out: dict[str, Any] = {}
    for name in names:
        text = draw(type_exprs(models))
        ref = parse_type(text)
        if draw(st.integers(0, 2)) > 0:
            out[name] = text
            continue
        spec: dict[str, Any] = {"type": text}
        defaults = _default_values(ref)
        if defaults is not None and draw(st.booleans()):
            spec["default"] = draw(defaults)
        if ref.kind == "scalar" and ref.name in INTEGERS and draw(st.booleans()):
            low, high = INTEGERS[ref.name]
            bound = draw(st.integers(max(low, -1000), min(high, 1000)))
            spec["min"] = min(bound, spec["default"]) if isinstance(spec.get("default"), int) else bound
            spec["max"] = spec["min"] + draw(st.integers(0, 200_000))
            if isinstance(spec.get("default"), int):
                spec["max"] = max(spec["max"], spec["default"])
            spec["max"] = min(spec["max"], high)
        if draw(st.booleans()):
            spec["description"] = f"The {name} of the record."
        out[name] = spec
    return out


def _field_type(spec: Any) -> TypeRef:
    return parse_type(spec if isinstance(spec, str) else spec["type"])


def _unwrap_lists(ref: TypeRef) -> TypeRef:
    while ref.kind == "list" and ref.item is not None:
        ref = ref.item
    return ref


def indexable_paths(models: dict[str, dict[str, Any]], model: str, depth: int = 2) -> list[str]:
    """Dotted field paths of `model` that end at an indexable scalar (through lists and models)."""
    paths = []
    for name, spec in models[model].items():
        leaf = _unwrap_lists(_field_type(spec))
        if leaf.kind == "scalar" and leaf.name in INDEXABLE:
            paths.append(name)
        elif leaf.kind == "model" and depth > 0:
            paths.extend(f"{name}.{sub}" for sub in indexable_paths(models, leaf.name, depth - 1))
    return paths


@st.composite
def model_sections(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """1-3 models; each may refer to the models declared before it."""
    names = draw(st.lists(st.sampled_from(MODEL_NAMES), min_size=1, max_size=3, unique=True))
    models: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(names):
        models[name] = draw(fields(names[:index]))
    return models


def _index_sections(draw: st.DrawFn, models: dict[str, dict[str, Any]], value: str) -> dict[str, Any]:
    """Up to two indexes over indexable paths of `value`, in the shorthand or the mapping form."""
    paths = indexable_paths(models, value)
    chosen = draw(st.lists(st.sampled_from(paths), max_size=2, unique=True)) if paths else []
    indexes: dict[str, Any] = {}
    for path in chosen:
        name = path.replace(".", "-").replace("_", "-") + "-idx"
        form = draw(st.integers(0, 2))
        if form == 0:
            indexes[name] = path
        elif form == 1:
            indexes[name] = {"field": path}
        else:
            indexes[name] = {"field": path, "unique": draw(st.booleans())}
    return indexes


def _registry(draw: st.DrawFn, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    value = draw(st.sampled_from(sorted(models)))
    kind = draw(st.sampled_from(["registry", "ttl", "coalesced"]))
    key = draw(st.sampled_from(KEYS))
    registry: dict[str, Any] = {"key": key, "value": value}
    if kind != "registry" or draw(st.booleans()):
        registry["kind"] = kind
    if kind == "ttl":
        registry["ttl"] = draw(durations)
    if kind == "coalesced":
        registry["flush"] = draw(durations)
    if kind != "coalesced":  # a coalesced registry buffers writes: no ids, no indexes
        if key == "uint32" and draw(st.booleans()):
            starts = st.builds(dict, start=st.integers(1, 10**9))
            registry["ids"] = draw(st.one_of(st.just(True), st.just({}), starts))
        indexes = _index_sections(draw, models, value)
        if indexes:
            registry["indexes"] = indexes
    if draw(st.integers(0, 4)) == 0:
        registry["scope"] = "global"
    if draw(st.integers(0, 4)) == 0:
        registry["read_cache"] = {"ttl": draw(durations)}
    return registry


@st.composite
def registries(draw: st.DrawFn, models: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """0-3 registries of every kind over the declared models."""
    names = draw(st.lists(st.sampled_from(REGISTRY_NAMES), max_size=3, unique=True))
    return {name: _registry(draw, models) for name in names}


@st.composite
def message_sections(draw: st.DrawFn, models: list[str]) -> dict[str, dict[str, Any]]:
    """0-2 messages with envelope fields and 1-3 types each."""
    names = draw(st.lists(st.sampled_from(MESSAGE_NAMES), max_size=2, unique=True))
    messages: dict[str, dict[str, Any]] = {}
    for name in names:
        envelope = st.one_of(st.sampled_from(ENVELOPE_POOL), field_names).filter(
            lambda n: n not in ("type", "body")
        )
        envelope_names = draw(st.lists(envelope, max_size=3, unique=True))
        envelope_fields = {n: draw(type_exprs(models, depth=1)) for n in envelope_names}
        types = draw(st.lists(st.sampled_from(MESSAGE_TYPES), min_size=1, max_size=3, unique=True))
        body = {t: draw(st.one_of(st.none(), fields(models, size=(0, 3)))) for t in types}
        message: dict[str, Any] = {"types": body}
        if envelope_fields or draw(st.booleans()):
            message["fields"] = envelope_fields
        messages[name] = message
    return messages


def _handler(module: str, function: str) -> str:
    return f"{LOGIC}.{module}:{function}"


@st.composite
def topic_sections(
    draw: st.DrawFn, messages: dict[str, dict[str, Any]], locks: dict[str, Any], outbox: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """`consumes` and `produces` of the declared messages, under UPPER_SNAKE topic tokens."""
    if not messages:
        return {}, {}
    consumes: dict[str, Any] = {}
    for word in draw(st.lists(st.sampled_from(TOPIC_WORDS), max_size=2, unique=True)):
        token = f"COMMAND_TOPIC_{word}"
        message = draw(st.sampled_from(sorted(messages)))
        envelope = sorted(messages[message].get("fields", {}))
        types = draw(st.lists(st.sampled_from(sorted(messages[message]["types"])), max_size=3, unique=True))
        binding: dict[str, Any] = {
            "message": message,
            "handlers": {t: _handler("commands", f"on_{word.lower()}_{t.lower()}") for t in types},
        }
        if envelope and draw(st.booleans()):
            binding["dedupe"] = draw(st.sampled_from(envelope))
        if draw(st.booleans()):
            initial = draw(st.integers(1, 500))
            binding["retry"] = {"attempts": draw(st.integers(1, 6)), "initial": f"{initial}ms", "max": "10s"}
        if draw(st.booleans()):
            binding["dead_letter"] = draw(st.booleans())
        if envelope and locks and draw(st.booleans()):
            binding["lock"] = {
                "name": draw(st.sampled_from(sorted(locks))),
                "key": draw(st.sampled_from(envelope)),
            }
        consumes[token] = binding
    produces: dict[str, Any] = {}
    for word in draw(st.lists(st.sampled_from(TOPIC_WORDS), max_size=2, unique=True)):
        token = draw(st.sampled_from([f"EVENT_TOPIC_{word}", f"COMMAND_TOPIC_{word}"]))
        # one service may consume what it produces, with the same message
        message = consumes[token]["message"] if token in consumes else draw(st.sampled_from(sorted(messages)))
        envelope = sorted(messages[message].get("fields", {}))
        binding: dict[str, Any] = {"message": message}
        if envelope and draw(st.booleans()):
            binding["key"] = draw(st.sampled_from(envelope))
        via = draw(st.sampled_from(["direct", "outbox"] if outbox else ["direct"]))
        if via == "outbox" or draw(st.booleans()):
            binding["via"] = via
        produces[token] = binding
    return consumes, produces


def _operation(draw: st.DrawFn, operation: dict[str, Any]) -> dict[str, Any]:
    """`operation` with, now and then, token scopes and a description."""
    if draw(st.integers(0, 5)) == 0:
        operation["scopes"] = [draw(st.sampled_from(["read", "items:write", "admin"]))]
    if draw(st.integers(0, 5)) == 0:
        operation["description"] = "An operation."
    return operation


def _collection_routes(
    draw: st.DrawFn, name: str, registry: dict[str, Any], models: list[str]
) -> dict[str, Any]:
    """`/<registry>`: a paged list (with filters over its indexes) and a create handler."""
    methods: dict[str, Any] = {}
    if draw(st.booleans()):
        indexes = sorted(registry.get("indexes", {}))
        chosen = draw(st.lists(st.sampled_from(indexes), max_size=2, unique=True)) if indexes else []
        operation: dict[str, Any] = {"list": name}
        if chosen or draw(st.booleans()):
            operation["filters"] = {index.removesuffix("-idx").replace("-", "_"): index for index in chosen}
        methods["get"] = _operation(draw, operation)
    if draw(st.booleans()):
        operation = {
            "handler": _handler("rest", f"create_{name.replace('-', '_')}"),
            "body": draw(st.sampled_from(models)),
        }
        if draw(st.booleans()):
            operation["status"] = draw(st.sampled_from([201, 202, 204]))
        methods["post"] = _operation(draw, operation)
    return methods


def _item_routes(draw: st.DrawFn, name: str, registry: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """`/<registry>/{id}`: `get` and `remove` by key, and an update handler."""
    methods: dict[str, Any] = {}
    for method, action in (("get", "get"), ("delete", "remove")):
        if draw(st.integers(0, 3)) > 0:
            operation: dict[str, Any] = {action: name}
            if draw(st.booleans()):
                operation["params"] = {"id": registry["key"]}
            methods[method] = _operation(draw, operation)
    if draw(st.integers(0, 2)) == 0:
        operation = {
            "handler": _handler("rest", f"update_{name.replace('-', '_')}"),
            "params": {"id": registry["key"]},
            "body": draw(st.sampled_from(models)),
            "returns": draw(st.sampled_from(models)),
        }
        methods[draw(st.sampled_from(["put", "patch"]))] = _operation(draw, operation)
    return methods


@st.composite
def endpoint_sections(
    draw: st.DrawFn, models: dict[str, dict[str, Any]], state: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """`get`/`list`/`remove` over the registries and a few handler routes."""
    endpoints: dict[str, dict[str, Any]] = {}
    model_names = sorted(models)
    for name, registry in state.items():
        function = name.replace("-", "_")
        routes = {
            f"/{name}": _collection_routes(draw, name, registry, model_names),
            f"/{name}/{{id}}": _item_routes(draw, name, registry, model_names),
        }
        if draw(st.integers(0, 2)) == 0:
            returns = draw(st.sampled_from(model_names))
            operation = {"handler": _handler("rest", f"related_{function}"), "returns": f"list[{returns}]"}
            if draw(st.booleans()):
                operation["resource"] = "related"
            routes[f"/{name}/{{id}}/related"] = {"get": _operation(draw, operation)}
        endpoints.update((path, methods) for path, methods in routes.items() if methods)
    if draw(st.booleans()):
        operation = {
            "handler": _handler("rest", "lookup"),
            "params": {"code": draw(st.sampled_from(["uint32", "uint64", "str", "uuid", "int"]))},
        }
        if draw(st.booleans()):
            operation["returns"] = draw(st.sampled_from(model_names))
        endpoints["/lookups/{code}"] = {"get": _operation(draw, operation)}
    return endpoints


COLUMN_SCALARS = ("bool", "int", "int64", "uint16", "uint32", "uint64", "float", "str", "uuid", "datetime")
TABLE_NAMES = ("notes", "name_history", "audit_log", "world_names")


def _column(draw: st.DrawFn, *, primary_key: bool = False) -> Any:
    """A column: a scalar, list or dict type (no models), shorthand or the mapping form."""
    if primary_key:
        return {"type": draw(st.sampled_from(["uint32", "int64", "str", "uuid"])), "primary_key": True}
    scalar = draw(st.sampled_from(COLUMN_SCALARS))
    text = draw(st.sampled_from([scalar, scalar, f"list[{scalar}]", f"dict[str, {scalar}]"]))
    if draw(st.booleans()):
        return text
    column: dict[str, Any] = {"type": text}
    if draw(st.booleans()):
        column["nullable"] = True
    if draw(st.integers(0, 3)) == 0:
        column["unique"] = True
    defaults = _default_values(parse_type(text)) if text in ("bool", "int", "str") else None
    if defaults is not None and draw(st.booleans()):
        column["default"] = draw(defaults)
    return column


def _table(draw: st.DrawFn) -> dict[str, Any]:
    """A table with one primary key, and now and then composite indexes and unique groups."""
    tenant_scoped = draw(st.sampled_from([None, True, False]))
    names = draw(st.lists(field_names, min_size=1, max_size=5, unique=True))
    if tenant_scoped is not False:
        names = [name for name in names if name != "tenant_id"] or ["id"]
    columns = {name: _column(draw, primary_key=index == 0) for index, name in enumerate(names)}
    table: dict[str, Any] = {"columns": columns}
    for group in ("indexes", "unique"):
        chosen = draw(
            st.lists(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True), max_size=2)
        )
        if chosen:
            table[group] = [
                columns[0] if len(columns) == 1 and draw(st.booleans()) else columns for columns in chosen
            ]
    if tenant_scoped is not None:
        table["tenant_scoped"] = tenant_scoped
    return table


@st.composite
def database_sections(draw: st.DrawFn) -> dict[str, Any]:
    """No database most of the time; else SQLite-backed tables, a pool and maybe the outbox."""
    if draw(st.integers(0, 3)) > 0:
        return {}
    database: dict[str, Any] = {}
    if draw(st.booleans()):
        max_open = draw(st.integers(1, 30))
        database["pool"] = {"max_open": max_open, "max_idle": draw(st.integers(1, max_open))}
        if draw(st.booleans()):
            database["pool"].update(max_lifetime=draw(durations), max_idle_time=draw(durations))
    tables = {
        name: _table(draw) for name in draw(st.lists(st.sampled_from(TABLE_NAMES), max_size=2, unique=True))
    }
    if tables:
        database["tables"] = tables
    if draw(st.booleans()):
        database["outbox"] = True
    return database or {"outbox": False}


@st.composite
def task_sections(draw: st.DrawFn) -> dict[str, Any]:
    """0-2 periodic tasks."""
    tasks: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(TASK_NAMES), max_size=2, unique=True)):
        task: dict[str, Any] = {
            "every": draw(durations),
            "handler": _handler("tasks", name.replace("-", "_")),
        }
        if draw(st.booleans()):
            task["leader_only"] = draw(st.booleans())
        tasks[name] = task
    return tasks


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    """The top-level keys before the sections: name, description, replicas, group, wire case."""
    name = draw(st.from_regex(r"[a-z][a-z0-9]{0,7}(-[a-z][a-z0-9]{0,5}){0,2}", fullmatch=True))
    spec: dict[str, Any] = {"service": name}
    if draw(st.booleans()):
        spec["description"] = "A service drawn by hypothesis."
    if draw(st.booleans()):
        spec["replicas"] = draw(st.integers(1, 5))
    if draw(st.integers(0, 3)) == 0:
        spec["consumer_group"] = "Property Service"
    if draw(st.integers(0, 3)) == 0:
        spec["wire_case"] = draw(st.sampled_from(["camel", "declared", "snake"]))
    return spec


SAGA_NAMES = ("purchase", "transfer-item", "create_party")
# Saga messages, apart from the drawn ones: every saga message carries the transaction id.
SAGA_MESSAGES: dict[str, dict[str, Any]] = {
    "StepCommand": {
        "fields": {"transaction_id": "uuid"},
        "types": {"DO": {"note": "str?"}, "UNDO": {"receipt": "str?"}},
    },
    "StepStatus": {
        "fields": {"transaction_id": "uuid"},
        "types": {"DONE": {"receipt": "str?"}, "FAILED": {}},
    },
    "SagaOutcome": {
        "fields": {"transaction_id": "uuid"},
        "types": {"COMPLETED": {"saga_type": "str?"}, "FAILED": {"reason": "str?", "error_code": "str?"}},
    },
    "SagaStart": {"fields": {"transaction_id": "uuid"}, "types": {"START": {}}},
}


def _saga_step(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """Step `index`: a command on its own topic, completed by a shared status topic, maybe undone."""
    name = f"step_{index}"
    command = f"COMMAND_TOPIC_STEP_{index}"
    step: dict[str, Any] = {
        "name": name,
        "action": {"topic": command, "message": "StepCommand", "type": "DO"},
        "completion": {"topic": "EVENT_TOPIC_STEP_STATUS", "message": "StepStatus", "success": ["DONE"]},
    }
    if draw(st.booleans()):
        step["completion"]["failure"] = ["FAILED"]
    if draw(st.integers(0, 3)) == 0:
        step["compensation"] = "none"
    else:
        step["compensation"] = {"topic": command, "message": "StepCommand", "type": "UNDO"}
        if draw(st.booleans()):
            step["compensation"]["set"] = {"receipt": f"steps.{name}.receipt"}
    if draw(st.booleans()):
        step["timeout"] = draw(durations)
    return step


@st.composite
def saga_sections(draw: st.DrawFn, models: list[str]) -> dict[str, Any]:
    """Now and then one or two saga types over the drawn models, with 1-3 steps each."""
    if draw(st.integers(0, 3)) > 0:
        return {}
    sagas: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(SAGA_NAMES), min_size=1, max_size=2, unique=True)):
        saga: dict[str, Any] = {
            "data": draw(st.sampled_from(models)),
            "steps": [_saga_step(draw, index) for index in range(1, draw(st.integers(1, 3)) + 1)],
            "events": {"topic": "EVENT_TOPIC_SAGA_OUTCOME", "message": "SagaOutcome"},
        }
        if draw(st.booleans()):
            saga["timeout"] = draw(durations)
        if draw(st.booleans()):
            saga["trigger"] = {"topic": "COMMAND_TOPIC_SAGA_START", "message": "SagaStart", "type": "START"}
        sagas[name] = saga
    return sagas


# The service a drawn spec may call (`calls: [peer]`): written next to it, rendered, never started.
PEER = {
    "service": "peer",
    "models": {"Thing": {"id": "uint32"}},
    "state": {"things": {"key": "uint32", "value": "Thing"}},
    "endpoints": {"/things/{id}": {"get": {"get": "things"}}},
}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A whole service spec as a dict, ready for `yaml.safe_dump`."""
    spec = draw(headers())
    models = draw(model_sections())
    state = draw(registries(models))
    locks = {
        name: draw(st.one_of(st.just({}), st.builds(dict, ttl=durations, wait=durations)))
        for name in draw(st.lists(st.sampled_from(LOCK_NAMES), max_size=2, unique=True))
    }
    messages = draw(message_sections(sorted(models)))
    sagas = draw(saga_sections(sorted(models)))
    if sagas:
        messages.update(SAGA_MESSAGES)
    database = draw(database_sections())
    consumes, produces = draw(topic_sections(messages, locks, bool(database.get("outbox"))))
    sections = {
        "models": models,
        "state": state,
        "locks": locks,
        "messages": messages,
        "consumes": consumes,
        "produces": produces,
        "endpoints": draw(endpoint_sections(models, state)),
        "database": database,
        "tasks": draw(task_sections()),
        "sagas": sagas,
        "calls": ["peer"] if draw(st.integers(0, 3)) == 0 else [],
    }
    spec.update((key, section) for key, section in sections.items() if section)
    return spec


# -- the property -------------------------------------------------------------------------------

EXAMPLES = itertools.count()


def _personalise(value: Any, n: int) -> Any:
    """`value` with the handler package renamed `prop_logic_<n>` (unique module names per example)."""
    if isinstance(value, dict):
        return {k: _personalise(v, n) for k, v in value.items()}
    if isinstance(value, list):
        return [_personalise(v, n) for v in value]
    if isinstance(value, str) and value.startswith(f"{LOGIC}."):
        return f"{LOGIC}_{n}." + value.removeprefix(f"{LOGIC}.")
    return value


def _cli(*args: str) -> tuple[int, str]:
    """Run `atlas-gen ARGS` in-process: its exit code and output (an unexpected exception is raised)."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@contextmanager
def _environment(spec: dict[str, Any], root: Path) -> Iterator[None]:
    """Embedded backends, no auth, a unique key prefix and topic per token; restored afterwards."""
    with mock.patch.dict(os.environ):
        for name in ("REDIS_URL", "BOOTSTRAP_SERVERS", "DB_HOST", "KAFKA_CONSUMER_GROUP"):
            os.environ.pop(name, None)
        unique = f"{spec['service']}-{uuid.uuid4().hex[:8]}"
        os.environ.update(
            AUTH_MODE="off",
            ATLAS_ENV=unique,
            DB_SQLITE_PATH=str(root / "embedded.db"),
            BASE_SERVICE_URL="http://127.0.0.1:9/api/",  # calls are declared, never made
        )
        for token in _topic_tokens(spec):
            os.environ[token] = f"{unique}.{token.lower()}"
        yield


def _topic_tokens(spec: dict[str, Any]) -> set[str]:
    """Every topic token of a spec: consumed, produced and named by its sagas."""
    tokens = {*spec.get("consumes", {}), *spec.get("produces", {})}
    for saga in spec.get("sagas", {}).values():
        tokens.add(saga["events"]["topic"])
        if "trigger" in saga:
            tokens.add(saga["trigger"]["topic"])
        for step in saga["steps"]:
            for part in ("action", "completion", "compensation"):
                if isinstance(step[part], dict):
                    tokens.add(step[part]["topic"])
    return tokens


@contextmanager
def _imported(out: Path, logic: Path, package: str, handlers: str) -> Iterator[ServiceDescription]:
    """Import the generated package (its handlers importable too); forget both afterwards."""
    sys.path[:0] = [str(out), str(logic)]
    importlib.invalidate_caches()
    try:
        yield importlib.import_module(package).SERVICE
    finally:
        sys.path.remove(str(out))
        sys.path.remove(str(logic))
        for name in list(sys.modules):
            if name.split(".")[0] in (package, handlers):
                del sys.modules[name]


async def _probe(description: ServiceDescription, spec: dict[str, Any]) -> None:
    """Start the service; health is 200, a `get` of a missing key 404, a plain `list` an empty page."""
    async with running(description) as (_, http):
        response = await http.get("/api/health")
        assert response.status_code == 200, response.text
        for path, methods in spec.get("endpoints", {}).items():
            operation = methods.get("get", {})
            if "get" in operation:
                key = spec["state"][operation["get"]]["key"]
                url = "/api" + path.replace("{id}", MISSING_KEY[key])
                response = await http.get(url, headers=tenant_headers())
                assert response.status_code == 404, (url, response.status_code, response.text)
            elif "list" in operation:
                response = await http.get("/api" + path, headers=tenant_headers())
                assert response.status_code == 200, (path, response.status_code, response.text)
                assert response.json()["data"] == [], response.text
        if spec.get("sagas"):
            response = await http.get("/api/sagas", headers=tenant_headers())
            assert response.status_code == 200, response.text
            assert response.json()["data"] == [], response.text


def _report(text: str) -> None:
    """Show `text` with a failing hypothesis example (pinned cases fail with the traceback alone)."""
    if currently_in_test_context():
        note(text)


def _validates(spec: dict[str, Any], root: Path) -> bool:
    """Write `spec` to `root/specs/` and run `atlas-gen validate` on it: True when it is valid."""
    text = yaml.safe_dump(spec, sort_keys=False)
    _report(text)
    (root / "specs").mkdir()
    (root / "specs" / "service.yaml").write_text(text, encoding="utf-8")
    if spec.get("calls"):
        (root / "specs" / "peer.yaml").write_text(yaml.safe_dump(PEER, sort_keys=False), encoding="utf-8")
    code, output = _cli("validate", "--specs", str(root / "specs"))
    _report(output)
    assert code in (0, 1), output
    return code == 0


def _render_and_start(spec: dict[str, Any], root: Path, n: int) -> None:
    """Render and scaffold the valid spec in `root/specs/`, import the package and probe it running."""
    specs_dir, out, logic = root / "specs", root / "out", root / "logic"
    # every example is new to the formatting cache: keep it out of the user's cache
    with mock.patch.dict(os.environ, {"ATLAS_GEN_CACHE_DIR": str(root / "cache")}):
        code, output = _cli("render", "--specs", str(specs_dir), "--out", str(out))
    assert code == 0, output
    code, output = _cli("scaffold", "--specs", str(specs_dir), "--handlers", str(logic))
    assert code == 0, output
    package = "atlas_" + spec["service"].replace("-", "_")
    with _environment(spec, root), _imported(out, logic, package, f"{LOGIC}_{n}") as description:
        asyncio.run(_probe(description, spec))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
@given(spec=specs())
def test_a_valid_spec_renders_code_that_imports_and_starts(spec: dict[str, Any]) -> None:
    """Every drawn spec that passes `validate` renders, scaffolds, imports, starts and answers."""
    n = next(EXAMPLES)
    spec = _personalise({**spec, "service": f"{spec['service']}-p{n}"}, n)
    with tempfile.TemporaryDirectory(prefix="atlas-prop-") as tmp:
        valid = _validates(spec, Path(tmp))
        event("valid" if valid else "rejected by validate")
        assume(valid)
        _render_and_start(spec, Path(tmp), n)


@pytest.mark.parametrize("name", sorted(SHADOWING))
def test_a_field_named_like_a_type_imports(name: str) -> None:
    """A field named like a type its class annotates (`int: int?`) renders a service that starts."""
    n = next(EXAMPLES)
    spec = {
        "service": f"shadow-{name.lower()}-p{n}",
        "models": {
            "Item": {
                name: SHADOWING[name],
                "tags": "dict[str, list[str]]",
                "level": {"type": "int", "min": 0},
                "seen": "datetime?",
            }
        },
        "state": {"items": {"key": "uint32", "value": "Item"}},
        "endpoints": {"/items/{id}": {"get": {"get": "items"}}},
        "database": {
            "tables": {
                "notes": {
                    "columns": {
                        "id": {"type": "uint32", "primary_key": True},
                        name: SHADOWING[name],
                        "seen": "datetime?",
                    }
                }
            }
        },
    }
    with tempfile.TemporaryDirectory(prefix="atlas-prop-") as tmp:
        assert _validates(spec, Path(tmp))
        _render_and_start(spec, Path(tmp), n)
