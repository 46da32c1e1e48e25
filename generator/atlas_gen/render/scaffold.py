"""Typed stubs for handlers the specs reference but no module defines yet.

`plan_stubs(view)` lists one stub per handler reference of a service; `write_stubs(root,
stubs)` creates missing modules and appends missing functions to existing ones. It never
overwrites a user file: a module is appended to only when it parses and does not bind the
name already; anything else is reported and left alone.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from atlas_gen.render.spec_types import Imports, annotation
from atlas_gen.render.views import ServiceView
from atlas_gen.render.views_io import EndpointView


@dataclass(frozen=True)
class Stub:
    """One handler function to write into `module`."""

    module: str
    function: str
    parameters: str
    returns: str
    doc: str
    imports: tuple[tuple[str, str], ...]

    def code(self, *, quoted: bool = False) -> str:
        """The function's source; `quoted` puts annotations in strings (for appending)."""
        params, returns = self.parameters, self.returns
        if quoted:
            params = ", ".join(_quote(p) for p in params.split(", "))
            returns = returns if returns == "None" else f'"{returns}"'
        return (
            f"async def {self.function}({params}) -> {returns}:\n"
            f'    """{self.doc}"""\n'
            f'    raise NotImplementedError("{self.module}:{self.function}")\n'
        )


def _quote(parameter: str) -> str:
    name, _, kind = parameter.partition(": ")
    return f'{name}: "{kind}"'


@dataclass
class ScaffoldReport:
    """What scaffolding did: created modules, appended functions, and what it left alone (why)."""

    created: list[str] = field(default_factory=list)
    appended: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _split(ref: str) -> tuple[str, str]:
    module, _, function = ref.partition(":")
    return module, function


def _endpoint_stub(pkg: str, handler: str, e: EndpointView) -> Stub:
    module, function = _split(handler)
    found = Imports()
    found.add(f"{pkg}.protocols", "Context")
    found.add("atlas_runtime.service.protocols", "Request")
    body = annotation(e.body_type, found, models_module=f"{pkg}.models") if e.body_type else "None"
    returns = annotation(e.returns, found, models_module=f"{pkg}.models") if e.returns else "Any"
    if returns == "Any":
        found.add("typing", "Any")
    doc = e.description or f"Answer {e.method} /api{e.path}."
    params = f"ctx: Context, request: Request[{body}]"
    return Stub(module, function, params, returns, doc, tuple(sorted(found.names)))


def plan_stubs(view: ServiceView) -> list[Stub]:
    """One stub per handler reference of a service (first reference wins), sorted."""
    pkg = view.package
    stubs: dict[str, Stub] = {}
    for c in view.consumes:
        for type_value, ref, cls in c.handlers:
            module, function = _split(ref)
            imports = ((f"{pkg}.protocols", "Context"), (f"{pkg}.messages", cls))
            doc = f"Handle a {c.message} of type {type_value} from {c.token}."
            stubs.setdefault(
                ref, Stub(module, function, f"ctx: Context, message: {cls}", "None", doc, imports)
            )
    for e in view.endpoints:
        if e.handler:
            stubs.setdefault(e.handler, _endpoint_stub(pkg, e.handler, e))
    for t in view.tasks:
        module, function = _split(t.handler)
        doc = t.description or f"Task {t.name}: runs every {t.every:g}s once per tenant."
        stubs.setdefault(
            t.handler, Stub(module, function, "ctx: Context", "None", doc, ((f"{pkg}.protocols", "Context"),))
        )
    return [stubs[k] for k in sorted(stubs)]


_STDLIB = frozenset({"typing", "uuid", "datetime", "collections"})


def _module_path(root: Path, module: str) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def _new_module(module: str, stubs: list[Stub]) -> str:
    imports = Imports()
    for stub in stubs:
        for mod, name in stub.imports:
            imports.add(mod, name)
    header = f'"""Handlers of {module} (stubs written by `atlas-gen scaffold`; fill them in)."""\n\n'
    stdlib = [line for line in imports.lines() if line.split()[1].split(".")[0] in _STDLIB]
    others = [line for line in imports.lines() if line not in stdlib]
    groups = [["from __future__ import annotations"], stdlib, others]
    lines = "\n\n".join("\n".join(group) for group in groups if group)
    return header + lines + "\n\n\n" + "\n\n".join(s.code() for s in stubs)


def _bound_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _append(path: Path, stubs: list[Stub], report: ScaffoldReport) -> None:
    text = path.read_text(encoding="utf-8")
    try:
        bound = _bound_names(ast.parse(text))
    except SyntaxError as error:
        report.skipped.extend(f"{s.module}:{s.function} ({path} does not parse: {error.msg})" for s in stubs)
        return
    missing = [s for s in stubs if s.function not in bound]
    if not missing:
        return
    imports = sorted({i for s in missing for i in s.imports})
    block = "\n".join(f"    from {mod} import {name}" for mod, name in imports)
    addition = "\n\n" + "\n\n".join(s.code(quoted=True) for s in missing)
    addition += f"\n\nimport typing  # noqa: E402\n\nif typing.TYPE_CHECKING:\n{block}\n"
    path.write_text(text.rstrip("\n") + "\n" + addition, encoding="utf-8")
    report.appended.extend(f"{s.module}:{s.function}" for s in missing)


def write_stubs(root: Path, stubs: Iterable[Stub]) -> ScaffoldReport:
    """Create or extend handler modules under `root` (the folder handler modules import from)."""
    report = ScaffoldReport()
    by_module: dict[str, list[Stub]] = {}
    for stub in stubs:
        by_module.setdefault(stub.module, []).append(stub)
    for module, module_stubs in sorted(by_module.items()):
        path = _module_path(root, module)
        if path.exists():
            _append(path, module_stubs, report)
            continue
        for parent in reversed(path.relative_to(root).parents[:-1]):
            init = root / parent / "__init__.py"
            if not init.exists():
                init.parent.mkdir(parents=True, exist_ok=True)
                init.write_text(
                    f'"""Handlers package {parent.as_posix().replace("/", ".")}."""\n', encoding="utf-8"
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_new_module(module, module_stubs), encoding="utf-8")
        report.created.append(str(path.relative_to(root)))
    return report
