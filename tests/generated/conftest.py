"""Fixtures of the functional tests: a spec rendered into a temporary folder, imported and served."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atlas_gen.render import load_documents, render_tree, write_tree
from atlas_runtime.service import ServiceDescription

Build = Callable[[str, dict[str, str]], ServiceDescription]


@pytest.fixture
def build_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Build]:
    """Render `spec` (YAML) with handler modules `{dotted.module: source}`, import it, return SERVICE."""
    added: list[str] = []
    builds = iter(range(1_000))

    def build(spec: str, handlers: dict[str, str]) -> ServiceDescription:
        n = next(builds)
        specs = tmp_path / f"specs-{n}"
        specs.mkdir()
        (specs / "service.yaml").write_text(textwrap.dedent(spec), encoding="utf-8")
        documents = load_documents(specs)
        out = tmp_path / f"out-{n}"
        write_tree(out, render_tree(documents))
        logic = tmp_path / "logic"
        for module, source in handlers.items():
            path = logic.joinpath(*module.split(".")).with_suffix(".py")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source), encoding="utf-8")
            for parent in path.relative_to(logic).parents[:-1]:
                (logic / parent / "__init__.py").touch()
            added.append(module.split(".")[0])
        monkeypatch.syspath_prepend(str(out))
        monkeypatch.syspath_prepend(str(logic))
        package = "atlas_" + str(documents[0]["service"]).replace("-", "_")
        added.append(package)
        description: ServiceDescription = importlib.import_module(package).SERVICE
        return description

    yield build
    for name in list(sys.modules):
        if name.split(".")[0] in added:
            del sys.modules[name]


@pytest.fixture
def tenant_headers() -> Callable[[], dict[str, str]]:
    """Fresh tenant headers (a new tenant id each call)."""

    def make() -> dict[str, str]:
        return {"TENANT_ID": str(uuid.uuid4()), "REGION": "GMS", "MAJOR_VERSION": "83", "MINOR_VERSION": "1"}

    return make


@pytest.fixture
def key_env() -> dict[str, str]:
    """A unique key prefix for this test's Redis keys (`ATLAS_ENV`)."""
    return {"ATLAS_ENV": f"test-{uuid.uuid4().hex[:12]}"}
