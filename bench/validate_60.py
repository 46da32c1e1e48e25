"""Benchmark: load and validate a folder of 60 varied specs.

Generates 60 valid specs into a temporary folder (a chain of services, each consuming
the previous one's event topic), then prints, side by side:

- in-process `load_ecosystem` time (median of several runs, after imports),
- the same split into YAML parsing and schema+rules,
- YAML parsing with ruamel.yaml alone (no libyaml fast path), for comparison,
- the wall time of `atlas-gen validate` as a subprocess (interpreter start and imports included),

each as wall time and CPU time (CPU time is the work itself, and stays meaningful on a
busy machine), with the CPU time's share of the 1 s budget. Run:
`python bench/validate_60.py`.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SERVICES = 60
RUNS = 5
BUDGET_S = 1.0


def _event_message(name: str) -> str:
    return f"""  {name}Status:
    fields:
      actor_id: uint32
      entity_id: uint32
      transaction_id: uuid?
    types:
      CREATED: {{level: uint16}}
      UPDATED: {{level: uint16, tags: "list[str]"}}
      REMOVED: {{}}
"""


def _spec(index: int) -> str:
    name = f"svc{index:02d}"
    model = f"Svc{index:02d}"
    previous = f"Svc{index - 1:02d}" if index else None
    lines = [
        f"service: {name}",
        f"description: Generated service number {index}.",
        f"replicas: {1 + index % 3}",
        "models:",
        f"  {model}:",
        "    id: uint32",
        "    owner_id: uint32",
        "    level: {type: uint16, default: 1, min: 1, max: 200}",
        "    tags: list[str]",
        "    parts: list[Part]",
        "    note: str?",
        "  Part:",
        "    kind: str",
        "    amount: int",
        f"  {model}Create:",
        "    owner_id: uint32",
        "state:",
        f"  {name}:",
        "    key: uint32",
        f"    value: {model}",
        "    ids: {start: 1}",
        "    indexes:",
        "      owner: {field: owner_id}",
        "      tag: {field: tags}",
        "      part: {field: parts.kind}",
        "  recent:",
        "    kind: ttl",
        "    key: uint32",
        f"    value: {model}",
        f"    ttl: {10 + index}s",
        "  positions:",
        "    kind: coalesced",
        "    key: uint32",
        "    value: Part",
        "    flush: 100ms",
        "locks:",
        "  entity: {ttl: 5s, wait: 1s}",
        "messages:",
        f"  {model}Command:",
        "    fields:",
        "      actor_id: uint32",
        "      transaction_id: uuid?",
        "    types:",
        "      CREATE: {owner_id: uint32}",
        "      REMOVE: {entity_id: uint32}",
        _event_message(model).rstrip("\n"),
    ]
    if previous:
        lines.append(_event_message(previous).rstrip("\n"))
    lines += [
        "consumes:",
        f"  COMMAND_TOPIC_{model.upper()}:",
        f"    message: {model}Command",
        "    handlers:",
        f"      CREATE: {name}_logic.commands:create",
        f"      REMOVE: {name}_logic.commands:remove",
        "    dedupe: transaction_id",
        "    retry: {attempts: 3, initial: 100ms, max: 5s}",
        "    lock: {name: entity, key: actor_id}",
    ]
    if previous:
        lines += [
            f"  EVENT_TOPIC_{previous.upper()}_STATUS:",
            f"    message: {previous}Status",
            f"    handlers: {{REMOVED: {name}_logic.events:upstream_removed}}",
        ]
    via = "outbox" if index % 2 else "direct"
    lines += [
        "produces:",
        f"  EVENT_TOPIC_{model.upper()}_STATUS: {{message: {model}Status, key: entity_id, via: {via}}}",
        "endpoints:",
        f"  /{name}:",
        f"    get: {{list: {name}, filters: {{owner: owner, tag: tag}}}}",
        f"    post: {{handler: {name}_logic.rest:create, body: {model}Create, status: 202, scopes: [write]}}",
        f"  /{name}/{{id}}:",
        f"    get: {{get: {name}}}",
        f"    delete: {{remove: {name}}}",
        f"  /{name}/{{id}}/parts:",
        f'    get: {{handler: {name}_logic.rest:parts, returns: "list[Part]", params: {{id: uint32}}}}',
        f"calls: [svc{(index + 1) % SERVICES:02d}]",
        "tasks:",
        f"  sweep: {{every: 1s, handler: {name}_logic.tasks:sweep, leader_only: true}}",
    ]
    if via == "outbox":
        lines += [
            "database:",
            "  pool: {max_open: 20, max_idle: 5}",
            "  tables:",
            "    history:",
            "      columns:",
            "        id: {type: int64, primary_key: true}",
            "        entity_id: uint32",
            "        at: datetime",
            "      indexes: [[entity_id]]",
            "  outbox: true",
        ]
    return "\n".join(lines) + "\n"


def _write_specs(folder: Path) -> None:
    for index in range(SERVICES):
        (folder / f"svc{index:02d}.yaml").write_text(_spec(index), encoding="utf-8")


Timing = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def _median_seconds(action: Callable[[], object], runs: int = RUNS) -> Timing:
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    """Generate the specs, time the phases, print the figures."""
    import_start, import_cpu = time.perf_counter(), time.process_time()
    from atlas_gen.diagnostics import has_errors
    from atlas_gen.loader import find_spec_files, load_ecosystem
    from atlas_gen.loader.yaml_source import parse_yaml

    imports = (time.perf_counter() - import_start, time.process_time() - import_cpu)
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as name:
        folder = Path(name)
        _write_specs(folder)
        ecosystem, diagnostics = load_ecosystem(folder)
        errors = [diagnostic.format() for diagnostic in diagnostics if diagnostic.severity == "error"]
        if ecosystem is None or has_errors(diagnostics):
            raise SystemExit("generated specs are invalid:\n" + "\n".join(errors[:10]))
        texts = [(path.read_text(), str(path)) for path in find_spec_files(folder)]
        lines = sum(text.count("\n") for text, _ in texts)
        total = _median_seconds(lambda: load_ecosystem(folder))
        parsing = _median_seconds(lambda: [parse_yaml(text, file) for text, file in texts])
        reference = _median_seconds(lambda: [parse_yaml(text, file, fast=False) for text, file in texts])
        start, cpu_before = time.perf_counter(), _children_cpu()
        cli = subprocess.run(
            [sys.executable, "-m", "atlas_gen", "validate", "--specs", str(folder)],
            capture_output=True,
            check=False,
        )
        cli_timing = (time.perf_counter() - start, _children_cpu() - cpu_before)
    if cli.returncode != 0:
        raise SystemExit(f"atlas-gen validate failed: {cli.stdout.decode()}{cli.stderr.decode()}")
    print(f"{SERVICES} specs, {lines} lines, {len(ecosystem.topics)} topics, {len(diagnostics)} warnings")
    print(f"{'phase':<40}{'wall s':>8}{'CPU s':>8}{'CPU of 1 s budget':>19}")
    rows: list[tuple[str, Timing]] = [
        ("imports (atlas_gen, pydantic, ruamel)", imports),
        ("load + validate, in process", total),
        ("  of which YAML parsing", parsing),
        ("  of which schema + rules", (total[0] - parsing[0], total[1] - parsing[1])),
        ("YAML parsing with ruamel.yaml only", reference),
        ("atlas-gen validate (subprocess)", cli_timing),
    ]
    for label, (wall, cpu) in rows:
        print(f"{label:<40}{wall:>8.3f}{cpu:>8.3f}{cpu / BUDGET_S:>18.0%}")


if __name__ == "__main__":
    main()
