"""The render verbs end to end: `render`, `render --check`, `diff` and `scaffold`, with exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from atlas_gen.cli import app
from atlas_gen.cli_render import EXIT_DRIFT, EXIT_HAND_EDITED, EXIT_INVALID


@pytest.fixture
def cli() -> typer.Typer:
    return app


@pytest.fixture
def workspace(tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with the parties spec in specs/ and the working directory set to it."""
    shutil.copytree(fixtures_dir / "parties" / "specs", tmp_path / "specs")
    (tmp_path / "pyproject.toml").write_text('[tool.atlas-gen]\nspecs = "specs"\nout = "generated"\n')
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _invoke(cli: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_render_writes_the_tree_and_check_passes(cli: typer.Typer, workspace: Path) -> None:
    """`render` writes generated/ and a following `render --check` exits 0."""
    code, output = _invoke(cli, "render")
    assert code == 0, output
    assert (workspace / "generated" / "atlas_parties" / "service.py").is_file()
    code, output = _invoke(cli, "render", "--check")
    assert code == 0, output
    assert "up to date" in output


def test_check_fails_with_a_diff_when_specs_change(cli: typer.Typer, workspace: Path) -> None:
    """`render --check` exits 1 and prints the diff after a spec edit, and writes nothing."""
    _invoke(cli, "render")
    spec = workspace / "specs" / "parties.yaml"
    spec.write_text(spec.read_text().replace("replicas: 2 ", "replicas: 4 "))
    code, output = _invoke(cli, "render", "--check")
    assert code == EXIT_DRIFT
    assert "stale  atlas_parties/deploy/deployment.yaml" in output
    assert "-  replicas: 2\n+  replicas: 4\n" in output
    assert "replicas: 2" in (workspace / "generated/atlas_parties/deploy/deployment.yaml").read_text()


def test_diff_prints_what_render_would_change(cli: typer.Typer, workspace: Path) -> None:
    """`diff` shows missing files as additions, and `--exit-code` turns drift into exit 1."""
    code, output = _invoke(cli, "diff")
    assert code == 0
    assert "+++ b/atlas_parties/models.py" in output
    code, _ = _invoke(cli, "diff", "--exit-code")
    assert code == EXIT_DRIFT


def test_render_refuses_to_overwrite_hand_edits(cli: typer.Typer, workspace: Path) -> None:
    """`render` exits 3 over a hand-edited file and overwrites it only with --force."""
    _invoke(cli, "render")
    models = workspace / "generated" / "atlas_parties" / "models.py"
    models.write_text(models.read_text() + "# mine\n")
    spec = workspace / "specs" / "parties.yaml"
    spec.write_text(spec.read_text().replace("    stance: uint16\n", "    stance: uint16\n    z: int\n"))
    code, output = _invoke(cli, "render")
    assert code == EXIT_HAND_EDITED
    assert "atlas_parties/models.py" in output
    assert models.read_text().endswith("# mine\n")
    code, _ = _invoke(cli, "render", "--force")
    assert code == 0
    assert "    z: Int32\n" in models.read_text()


def test_invalid_specs_exit_2_with_located_diagnostics(cli: typer.Typer, workspace: Path) -> None:
    """A spec error stops the render with `file:line:column` diagnostics and exit 2."""
    spec = workspace / "specs" / "parties.yaml"
    spec.write_text(spec.read_text().replace("value: Party\n", "value: Partey\n"))
    code, output = _invoke(cli, "render")
    assert code == EXIT_INVALID
    assert "parties.yaml:" in output and "error[" in output
    assert not (workspace / "generated").exists()


def test_scaffold_creates_typed_stubs_and_never_overwrites(cli: typer.Typer, workspace: Path) -> None:
    """`scaffold` writes stubs for missing handlers, appends missing ones, and keeps user code."""
    logic = workspace / "parties_logic"
    logic.mkdir()
    (logic / "__init__.py").write_text("")
    (logic / "rest.py").write_text('"""Mine."""\n\n\nasync def create(ctx, request):\n    return {"id": 1}\n')
    code, output = _invoke(cli, "scaffold")
    assert code == 0, output
    commands = (logic / "commands.py").read_text()
    assert "async def join(ctx: Context, message: PartyCommandJoin) -> None:" in commands
    assert "from atlas_parties.protocols import Context" in commands
    rest = (logic / "rest.py").read_text()
    assert rest.startswith('"""Mine."""\n\n\nasync def create(ctx, request):\n    return {"id": 1}\n')
    assert rest.count("async def create") == 1
    assert 'async def members(ctx: "Context", request: "Request[None]") -> "list[Member]":' in rest
    compile(rest, "rest.py", "exec")
    assert (logic / "tasks.py").is_file()
    code, output = _invoke(cli, "scaffold")
    assert "already exists" in output
    assert (logic / "rest.py").read_text() == rest
