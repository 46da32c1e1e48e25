"""Fixtures of the functional tests: a spec rendered into a temporary folder, imported and served."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from atlas_gen.loader import load_ecosystem
from atlas_gen.render import render_tree, write_tree
from atlas_runtime.service import ServiceDescription

Build = Callable[[str, dict[str, str]], ServiceDescription]


def _render(spec: str, specs: Path, out: Path) -> str:
    """Add one spec to the test's specs folder, validate and render them all into `out`.

    The services built in one test form one ecosystem (a caller and the service it calls
    validate together). Returns the package of the added spec; invalid specs fail the test.
    """
    specs.mkdir(exist_ok=True)
    path = specs / f"service-{len(list(specs.iterdir()))}.yaml"
    path.write_text(textwrap.dedent(spec), encoding="utf-8")
    ecosystem, diagnostics = load_ecosystem(specs)
    if ecosystem is None:
        pytest.fail("the spec is invalid:\n" + "\n".join(d.format() for d in diagnostics))
    write_tree(out, render_tree(ecosystem.specs()))
    (added,) = (f.spec for f in ecosystem.files if f.path == str(path))
    return added.package


def _write_handlers(logic: Path, handlers: dict[str, str]) -> list[str]:
    """Write handler modules `{dotted.module: source}` under `logic`; their top-level packages."""
    for module, source in handlers.items():
        path = logic.joinpath(*module.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        for parent in path.relative_to(logic).parents[:-1]:
            (logic / parent / "__init__.py").touch()
    return [module.split(".")[0] for module in handlers]


@pytest.fixture
def build_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Build]:
    """Render `spec` (YAML) with handler modules `{dotted.module: source}`, import it, return SERVICE."""
    added: list[str] = []
    builds = iter(range(1_000))

    def build(spec: str, handlers: dict[str, str]) -> ServiceDescription:
        n = next(builds)
        out, logic = tmp_path / f"out-{n}", tmp_path / "logic"
        package = _render(spec, tmp_path / "specs", out)
        added.extend([*_write_handlers(logic, handlers), package])
        monkeypatch.syspath_prepend(str(out))
        monkeypatch.syspath_prepend(str(logic))
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
