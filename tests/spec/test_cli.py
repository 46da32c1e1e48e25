"""The `atlas-gen` command line: validate, schema, version, help and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atlas_gen import __version__
from atlas_gen.cli import app, main

ROOT = Path(__file__).resolve().parent.parent.parent
INVALID = Path(__file__).parent / "invalid"
runner = CliRunner()


def test_validate_example_specs_exits_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """`validate` with the default folder accepts the example ecosystem (warnings allowed)."""
    monkeypatch.chdir(ROOT)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0, result.output
    assert "3 spec files valid" in result.output
    assert "error[" not in result.output


def test_validate_invalid_specs_exits_one_with_located_errors() -> None:
    """`validate` prints `file:line:col: error[CODE]: ...` lines and exits 1 on errors."""
    folder = INVALID / "unknown-key-suggestion"
    result = runner.invoke(app, ["validate", "--specs", str(folder)])
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{folder / 'parties.yaml'}:13:5: error[E010]: unknown key `indxes`")
    assert "did you mean `indexes`?" in first
    assert result.output.splitlines()[-1] == "2 errors, 0 warnings in 1 spec file"


def test_validate_json_format_matches_golden(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--format json` prints the diagnostics document with error and warning counts."""
    monkeypatch.chdir(INVALID / "saga-errors")
    result = runner.invoke(app, ["validate", "--specs", ".", "--format", "json"])
    assert result.exit_code == 1
    document = json.loads(result.output)
    assert document == json.loads((INVALID / "saga-errors" / "expected.json").read_text())
    assert set(document["diagnostics"][0]) == {
        "file",
        "line",
        "column",
        "severity",
        "code",
        "message",
        "expected",
    }
    assert document["warnings"] > 0 and document["errors"] > 0


@pytest.mark.parametrize(
    "arguments",
    [["validate", "--specs", "no/such/folder"], ["validate", "--format", "xml"], ["frobnicate"]],
)
def test_usage_errors_exit_two(arguments: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing folder, a bad option value or an unknown verb exits 2."""
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, arguments).exit_code == 2


def test_folder_without_specs_exits_two(tmp_path: Path) -> None:
    """A folder with no spec files is a usage error, not a silent success."""
    result = runner.invoke(app, ["validate", "--specs", str(tmp_path)])
    assert result.exit_code == 2
    assert "no spec files" in result.output


def test_pyproject_sets_default_specs_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`[tool.atlas-gen] specs` in the cwd's pyproject.toml is the default folder."""
    shutil.copytree(INVALID / "empty-file", tmp_path / "my-specs")
    (tmp_path / "pyproject.toml").write_text('[tool.atlas-gen]\nspecs = "my-specs"\n')
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.output.startswith("my-specs/parties.yaml:1:1: error[E002]")


def test_broken_pyproject_exits_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreadable `[tool.atlas-gen]` table is reported as a usage error."""
    (tmp_path / "pyproject.toml").write_text("[tool.atlas-gen]\nspecs = 3\n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "specs must be a folder name" in result.output


def test_schema_prints_the_json_schema(tmp_path: Path) -> None:
    """`schema` prints the JSON Schema, or writes it with --output."""
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output)["title"] == "atlas-gen service spec"
    target = tmp_path / "spec.schema.json"
    assert runner.invoke(app, ["schema", "--output", str(target)]).exit_code == 0
    assert json.loads(target.read_text()) == json.loads(result.output)


def test_version_and_help() -> None:
    """`--version` prints the version; every verb has `--help`."""
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"atlas-gen {__version__}"
    for verb in ("validate", "schema"):
        help_result = runner.invoke(app, [verb, "--help"])
        assert help_result.exit_code == 0 and "Usage:" in help_result.output


def test_internal_error_exits_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unexpected exception becomes a one-line message and exit code 2, not a traceback."""

    def explode(_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("atlas_gen.loader.load_ecosystem", explode)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["atlas-gen", "validate"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "internal error: RuntimeError: boom" in capsys.readouterr().err


def test_console_script_prints_plain_text_when_piped() -> None:
    """The installed script prints uncoloured, unwrapped lines when stdout is not a terminal."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "atlas_gen.cli",
            "validate",
            "--specs",
            str(INVALID / "incompatible-messages"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "40", "TERM": "xterm-256color"},
    )
    assert result.returncode == 1, result.stderr
    assert "\x1b[" not in result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    assert "error[E040]" in lines[0] and len(lines[0]) > 200


def test_every_diagnostic_code_is_documented() -> None:
    """docs/cli.md has a row for every diagnostic code, and no row for a code that does not exist."""
    from atlas_gen.diagnostics import CODES

    rows = {}
    for line in (ROOT / "docs" / "cli.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and cells[1][:1] in "EWN" and cells[1][1:].isdigit():
            rows[cells[1]] = cells[2]
    assert rows == CODES
