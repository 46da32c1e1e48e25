"""Render 60 services cold, then a no-change `render --check`; prints timings and ratios to targets.

    python bench/render_60.py

Each service is the normative parties example under another name (every spec section
used). "pipeline" times the pure render (views, templates, one ruff batch) plus write or
check, in this process; "cli" runs `atlas-gen render` / `render --check` as fresh
processes, as a user or CI does: interpreter start, imports and spec validation included.
"cold" runs start with an empty formatting cache (as on CI); "warm" reuse the cache a
previous run filled. Targets: cold render under 3 s,
no-change check under 2 s.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from atlas_gen.loader import load_ecosystem
from atlas_gen.render import check, render_tree, write_tree
from atlas_spec import ServiceSpec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "render" / "fixtures" / "parties" / "specs" / "parties.yaml"
SERVICES = 60
COLD_TARGET, CHECK_TARGET = 3.0, 2.0


def write_specs(folder: Path) -> None:
    """60 specs: the example renamed, with its own topic tokens and handler modules."""
    text = EXAMPLE.read_text(encoding="utf-8")
    folder.mkdir(parents=True)
    for n in range(SERVICES):
        spec = text.replace("service: parties", f"service: parties-{n:02d}")
        spec = re.sub(r"TOPIC_PARTY", f"TOPIC_PARTY_{n:02d}", spec)
        spec = spec.replace("parties_logic", f"parties_logic_{n:02d}")
        (folder / f"parties-{n:02d}.yaml").write_text(spec, encoding="utf-8")


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def fresh_cache(root: Path, name: str) -> None:
    """Point the formatting cache at a new empty folder."""
    os.environ["ATLAS_GEN_CACHE_DIR"] = str(root / "cache" / name)


def load_specs(folder: Path) -> list[ServiceSpec]:
    """The validated specs of the folder (validation is not part of the pipeline timings)."""
    ecosystem, diagnostics = load_ecosystem(folder)
    if ecosystem is None:
        raise SystemExit("\n".join(d.format() for d in diagnostics))
    return list(ecosystem.specs())


def pipeline(root: Path) -> tuple[float, float, float]:
    specs, out = load_specs(root / "specs"), root / "pipeline-out"

    def clean() -> None:
        if not check(out, render_tree(specs)).clean:
            raise SystemExit("drift after a render")

    fresh_cache(root, "pipeline")
    cold = timed(lambda: write_tree(out, render_tree(specs)))
    warm_check = timed(clean)
    fresh_cache(root, "pipeline-check")
    cold_check = timed(clean)
    return cold, warm_check, cold_check


def cli(workspace: Path) -> tuple[float, float, float]:
    def invoke(*args: str) -> None:
        command = [sys.executable, "-m", "atlas_gen", *args]
        done = subprocess.run(command, cwd=workspace, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"atlas-gen {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    fresh_cache(workspace, "cli")
    cold = timed(lambda: invoke("render"))
    warm_check = timed(lambda: invoke("render", "--check"))
    fresh_cache(workspace, "cli-check")
    return cold, warm_check, timed(lambda: invoke("render", "--check"))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        root = Path(tmp)
        write_specs(root / "specs")
        (root / "pyproject.toml").write_text('[tool.atlas-gen]\nspecs = "specs"\nout = "generated"\n')
        p_cold, p_warm, p_check = pipeline(root)
        shutil.rmtree(root / "pipeline-out")
        c_cold, c_warm, c_check = cli(root)
        files = sum(1 for p in (root / "generated").rglob("*") if p.is_file())
    print(f"{SERVICES} services, {files} generated files")
    print(f"{'':26}{'seconds':>9}{'target':>9}{'ratio':>8}")
    for name, seconds, target in (
        ("pipeline render, cold", p_cold, COLD_TARGET),
        ("pipeline check, warm", p_warm, CHECK_TARGET),
        ("pipeline check, cold", p_check, CHECK_TARGET),
        ("cli render, cold", c_cold, COLD_TARGET),
        ("cli render --check, warm", c_warm, CHECK_TARGET),
        ("cli render --check, cold", c_check, CHECK_TARGET),
    ):
        print(f"{name:26}{seconds:9.2f}{target:9.1f}{seconds / target:8.2f}")


if __name__ == "__main__":
    main()
