"""The copier template of a new workspace: `copier copy` and a three-way `copier update`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import copier
import pytest
import yaml

from atlas_templates import WORKSPACE

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=os.environ | GIT_ENV)


def commit_all(repo: Path, message: str, tag: str | None = None) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    if tag:
        git(repo, "tag", tag)


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """The shipped workspace template as a versioned git repository (tag v1)."""
    repo = tmp_path / "template"
    shutil.copytree(str(WORKSPACE), repo)
    git(repo, "init", "-q")
    commit_all(repo, "template v1", tag="v1")
    return repo


def test_copy_makes_a_workspace(tmp_path: Path) -> None:
    """A new workspace gets a spec named after its first service, its config and a CI workflow."""
    dest = tmp_path / "ws"
    copier.run_copy(
        str(WORKSPACE),
        dest,
        data={"project_name": "demo", "first_service": "my-items"},
        defaults=True,
        quiet=True,
    )
    spec = yaml.safe_load((dest / "specs" / "my-items.yaml").read_text())
    assert spec["service"] == "my-items"
    assert (dest / "logic" / "my_items_logic" / "__init__.py").is_file()
    assert 'name = "demo"' in (dest / "pyproject.toml").read_text()
    assert "atlas-gen render --check" in (dest / ".github" / "workflows" / "ci.yml").read_text()
    answers = yaml.safe_load((dest / ".copier-answers.yml").read_text())
    assert answers["first_service"] == "my-items"


def test_invalid_service_name_is_refused(tmp_path: Path) -> None:
    """A service name that is not lower-kebab is rejected by the template's validator."""
    with pytest.raises(ValueError, match="lower-case"):
        copier.run_copy(
            str(WORKSPACE), tmp_path / "ws", data={"first_service": "Bad_Name"}, defaults=True, quiet=True
        )


def test_update_merges_template_changes_with_user_edits(tmp_path: Path, template_repo: Path) -> None:
    """`copier update` brings a template upgrade and keeps the user's own edits."""
    dest = tmp_path / "ws"
    copier.run_copy(
        str(template_repo), dest, data={"project_name": "demo"}, defaults=True, quiet=True, vcs_ref="v1"
    )
    git(dest, "init", "-q")
    readme = dest / "README.md"
    readme.write_text(readme.read_text() + "\nOur own notes.\n")
    commit_all(dest, "workspace with local edits")

    makefile = template_repo / "template" / "Makefile.jinja"
    makefile.write_text(makefile.read_text() + "\nlint:  ## ruff over the handlers\n\truff check .\n")
    commit_all(template_repo, "template v2", tag="v2")

    copier.run_update(dest, defaults=True, overwrite=True, quiet=True, vcs_ref="v2")

    assert "Our own notes." in readme.read_text()
    assert "lint:" in (dest / "Makefile").read_text()
    assert yaml.safe_load((dest / ".copier-answers.yml").read_text())["_commit"] == "v2"


def test_new_verb_makes_a_workspace_that_renders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`atlas-gen new` writes a workspace whose spec validates and renders; a non-empty folder is refused."""
    from typer.testing import CliRunner

    from atlas_gen.cli import app

    runner = CliRunner()
    dest = tmp_path / "shop"
    created = runner.invoke(app, ["new", str(dest), "--service", "carts"])
    assert created.exit_code == 0, created.output
    assert 'name = "shop"' in (dest / "pyproject.toml").read_text()
    monkeypatch.chdir(dest)
    rendered = runner.invoke(app, ["render"])
    assert rendered.exit_code == 0, rendered.output
    assert (dest / "generated" / "atlas_carts" / "service.py").is_file()
    again = runner.invoke(app, ["new", str(dest)])
    assert again.exit_code == 2
    assert "not empty" in again.output
