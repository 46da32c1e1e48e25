"""Generated code is clean: it passes the project's ruff and `mypy --strict`, and types user handlers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

GOOD_HANDLERS = """
from __future__ import annotations

from collections.abc import AsyncIterator

from atlas_parties.messages import PartyCommandJoin
from atlas_parties.models import Member, Party, PartyCreate
from atlas_parties.protocols import Context, GetPartiesIdMembersHandler, PartyCommandJoinHandler
from atlas_parties.protocols import PostPartiesHandler
from atlas_runtime.service.protocols import Request


async def join(ctx: Context, message: PartyCommandJoin) -> None:
    async with ctx.locks.party(message.body.party_id):
        party = await ctx.state.parties.get(message.body.party_id)
        if party is not None:
            await ctx.state.parties.put(party.id, Party(id=party.id, leader_id=party.leader_id, members=[1]))


async def create(ctx: Context, request: Request[PartyCreate]) -> Party:
    party_id = await ctx.state.parties.next_id()
    return Party(id=party_id, leader_id=request.body.leader_id, members=[request.body.leader_id])


async def members(ctx: Context, request: Request[None]) -> list[Member]:
    return [m async for m in ctx.state.characters.values()]


async def stream_members(ctx: Context, request: Request[None]) -> AsyncIterator[Member]:
    async for member in ctx.state.characters.values():
        yield member


CHECK_JOIN: PartyCommandJoinHandler = join
CHECK_CREATE: PostPartiesHandler = create
CHECK_MEMBERS: GetPartiesIdMembersHandler = members
CHECK_STREAM: GetPartiesIdMembersHandler = stream_members
"""

BAD_HANDLERS = """
from __future__ import annotations

from atlas_parties.messages import PartyCommandCreate
from atlas_parties.protocols import Context, PartyCommandJoinHandler


async def join(ctx: Context, message: PartyCommandCreate) -> None:
    await ctx.state.parties.put("not-an-int", {"id": 1})


async def wrong_registry(ctx: Context) -> None:
    await ctx.state.guilds.get(1)


CHECK_JOIN: PartyCommandJoinHandler = join
"""


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}, check=False
    )


def test_generated_code_passes_ruff(fixtures_dir: Path) -> None:
    """Every golden tree passes the project's `ruff check` and `ruff format --check`."""
    trees = [str(fixtures_dir / case / "golden") for case in sorted(os.listdir(fixtures_dir))]
    config = str(ROOT / "pyproject.toml")
    lint = _run([sys.executable, "-m", "ruff", "check", "--config", config, *trees], ROOT)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = _run([sys.executable, "-m", "ruff", "format", "--check", "--config", config, *trees], ROOT)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


@pytest.mark.slow
def test_generated_code_and_handlers_pass_mypy_strict(fixtures_dir: Path, tmp_path: Path) -> None:
    """`mypy --strict` accepts every generated package and typed handlers, and rejects mistyped ones."""
    (tmp_path / "good_handlers.py").write_text(GOOD_HANDLERS, encoding="utf-8")
    (tmp_path / "bad_handlers.py").write_text(BAD_HANDLERS, encoding="utf-8")
    goldens = sorted(fixtures_dir.glob("*/golden"))
    packages = [arg for g in goldens for p in sorted(g.glob("atlas_*")) for arg in ("-p", p.name)]
    mypy_path = os.pathsep.join([*map(str, goldens), str(tmp_path), str(ROOT / "runtime")])
    args = [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml")]
    args += ["--cache-dir", str(tmp_path / ".mypy_cache")]
    done = _run([*args, *packages, "-m", "good_handlers", "-m", "bad_handlers"], tmp_path, MYPYPATH=mypy_path)
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    # The runtime is type-checked on its own (`mypy -p atlas_runtime`); here only our files count.
    ours = [
        line for line in errors if "/golden/" in line or line.startswith(("good_handlers", "bad_handlers"))
    ]
    assert all(line.startswith("bad_handlers.py") for line in ours), done.stdout
    text = "\n".join(ours)
    assert "CHECK_JOIN" in text or "Incompatible types in assignment" in text
    assert '"put" of "Registry" has incompatible type "str"' in text
    assert '"State" has no attribute "guilds"' in text


def test_generated_code_imports_only_public_runtime_modules(
    rendered_cases: dict[str, dict[str, str]],
) -> None:
    """Generated modules import the runtime only through public (non-underscore) modules and names."""
    import ast

    for case, tree in rendered_cases.items():
        for path, text in tree.items():
            if not path.endswith(".py"):
                continue
            for node in ast.walk(ast.parse(text)):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.module
                    and node.module.startswith("atlas_runtime")
                ):
                    private = [p for p in node.module.split(".") if p.startswith("_")]
                    private += [a.name for a in node.names if a.name.startswith("_")]
                    assert not private, f"{case}/{path} imports private {node.module}: {private}"
