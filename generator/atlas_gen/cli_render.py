"""CLI verbs of the render pipeline: `render` (with `--check`), `diff`, `scaffold`, `run`, `up`.

Each verb is a plain typer command function; `register(app)` adds them all to a typer
application. Heavy modules are imported inside the commands, so `atlas-gen --help` stays
fast. Exit codes: 0 success; 1 the specs have errors, or `render --check` /
`diff --exit-code` found drift; 2 usage or configuration error (no specs folder, a
service that cannot start); 3 generated files were edited by hand (`--force` overrides).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from atlas_gen.config import ProjectConfig, ProjectConfigError, load_project_config

if TYPE_CHECKING:
    from atlas_gen.ecosystem import Ecosystem
    from atlas_runtime.service import ServiceDescription
    from atlas_spec import ServiceSpec

EXIT_DRIFT = 1
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_HAND_EDITED = 3
PROGRESS_THRESHOLD = 10  # a progress bar only for renders this large

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

SpecsOption = Annotated[Path | None, typer.Option("--specs", help="Folder of spec files (default specs/).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Output folder (default generated/).")]


def _workspace(specs: Path | None, out_dir: Path | None) -> ProjectConfig:
    """The folders of `[tool.atlas-gen]` in ./pyproject.toml, overridden by the options."""
    try:
        config = load_project_config()
    except ProjectConfigError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    return dataclasses.replace(config, specs=specs or config.specs, out=out_dir or config.out)


def _require_specs(workspace: ProjectConfig) -> None:
    if not workspace.specs.is_dir():
        err.print(f"[red]error:[/] specs folder {workspace.specs} does not exist (use --specs DIR)")
        raise typer.Exit(EXIT_USAGE)


def load_specs(workspace: ProjectConfig) -> Ecosystem:
    """Validate the specs once; print every diagnostic, and exit 1 when any is an error."""
    from atlas_gen.loader import load_ecosystem

    _require_specs(workspace)
    ecosystem, diagnostics = load_ecosystem(workspace.specs)
    for diagnostic in diagnostics:
        err.print(diagnostic.format(), markup=False, highlight=False)
    if ecosystem is None:
        raise typer.Exit(EXIT_INVALID)
    return ecosystem


def rendered_tree(ecosystem: Ecosystem) -> dict[str, str]:
    """Render the validated specs in memory, with a progress bar for large ecosystems."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from atlas_gen.render import render_tree

    specs = list(ecosystem.specs())
    if len(specs) < PROGRESS_THRESHOLD:
        return render_tree(specs)
    columns = (TextColumn("rendering {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("", total=len(specs))
        return render_tree(specs, progress=lambda name: bar.update(task, advance=1, description=name))


def _report_drift(workspace: ProjectConfig, tree: dict[str, str], *, show_diff: bool) -> bool:
    from atlas_gen.render import check

    report = check(workspace.out, tree)
    if report.clean:
        return False
    for drift in report.drifts:
        err.print(f"{drift.kind.value:>11}  {drift.path}", markup=False, highlight=False)
    if show_diff:
        out.print(report.diff, markup=False, highlight=False, end="", soft_wrap=True)
    return True


def render(
    specs: SpecsOption = None,
    out_dir: OutOption = None,
    check_only: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 and print the diff if generated/ is stale.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite generated files edited by hand.")] = False,
) -> None:
    """Render every spec into the output folder (or, with --check, verify it is up to date)."""
    from atlas_gen.render import HandEditedError, write_tree

    workspace = _workspace(specs, out_dir)
    ecosystem = load_specs(workspace)
    tree = rendered_tree(ecosystem)
    if check_only:
        if _report_drift(workspace, tree, show_diff=True):
            err.print(f"[red]{workspace.out} is out of date:[/] run `atlas-gen render`")
            raise typer.Exit(EXIT_DRIFT)
        err.print(f"{workspace.out} is up to date ({len(tree)} files)")
        return
    try:
        report = write_tree(workspace.out, tree, force=force)
    except HandEditedError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(EXIT_HAND_EDITED) from None
    err.print(
        f"rendered {len(ecosystem.files)} spec(s) into {workspace.out}: "
        f"{len(report.written)} written, {len(report.removed)} removed, {report.unchanged} unchanged"
    )


def diff(
    specs: SpecsOption = None,
    out_dir: OutOption = None,
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when there are differences.")
    ] = False,
) -> None:
    """Print what a render would change in the output folder, as a unified diff."""
    workspace = _workspace(specs, out_dir)
    changed = _report_drift(workspace, rendered_tree(load_specs(workspace)), show_diff=True)
    if changed and exit_code:
        raise typer.Exit(EXIT_DRIFT)


def scaffold(
    specs: SpecsOption = None,
    handlers: Annotated[
        Path | None, typer.Option("--handlers", help="Folder handler modules import from (default: cwd).")
    ] = None,
) -> None:
    """Write typed stubs for handlers the specs reference but no module defines yet."""
    from atlas_gen.render import build_service
    from atlas_gen.render.scaffold import plan_stubs, write_stubs

    workspace = _workspace(specs, None)
    ecosystem = load_specs(workspace)
    root = handlers or workspace.handlers or Path.cwd()
    stubs = [s for spec in ecosystem.specs() for s in plan_stubs(build_service(spec))]
    report = write_stubs(root, stubs)
    for path in report.created:
        err.print(f"created   {path}", markup=False, highlight=False)
    for ref in report.appended:
        err.print(f"appended  {ref}", markup=False, highlight=False)
    for reason in report.skipped:
        err.print(f"[yellow]skipped[/]   {reason}", highlight=False)
    if not (report.created or report.appended or report.skipped):
        err.print("every handler the specs reference already exists")


def _prepare_imports(workspace: ProjectConfig) -> None:
    """Handler modules import from cwd (and the configured handlers folder); packages from --out."""
    for folder in (workspace.out, workspace.handlers, Path.cwd()):
        if folder is not None and str(folder.resolve()) not in sys.path:
            sys.path.insert(0, str(folder.resolve()))


def _ensure_rendered(workspace: ProjectConfig, ecosystem: Ecosystem) -> None:
    from atlas_gen.render import HandEditedError, check, write_tree

    tree = rendered_tree(ecosystem)
    if check(workspace.out, tree).clean:
        return
    err.print(f"{workspace.out} is out of date: rendering first")
    try:
        write_tree(workspace.out, tree)
    except HandEditedError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(EXIT_HAND_EDITED) from None


def _description(spec: ServiceSpec) -> ServiceDescription:
    try:
        module = importlib.import_module(spec.package)
    except ModuleNotFoundError as error:
        err.print(f"[red]error:[/] cannot import the generated package {spec.package} ({error})")
        raise typer.Exit(EXIT_USAGE) from None
    description: ServiceDescription = module.SERVICE
    return description


def run(
    service: Annotated[str, typer.Argument(help="The service to run, as named in its spec.")],
    specs: SpecsOption = None,
    out_dir: OutOption = None,
) -> None:
    """Run one service: REST on REST_HOST:REST_PORT (default 127.0.0.1:8080), consumers, tasks."""
    from atlas_runtime.errors import ConfigurationError
    from atlas_runtime.service import serve

    workspace = _workspace(specs, out_dir)
    ecosystem = load_specs(workspace)
    if service not in ecosystem.services:
        err.print(f"[red]error:[/] no service `{service}` in {workspace.specs}", highlight=False)
        raise typer.Exit(EXIT_USAGE)
    _ensure_rendered(workspace, ecosystem)
    _prepare_imports(workspace)
    try:
        serve(_description(ecosystem.spec(service)))
    except ConfigurationError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def _local_defaults(descriptions: list[ServiceDescription], port: int | None) -> None:
    """`up` runs without tokens, calls its own port, and names each unset topic after its token."""
    from atlas_runtime.rest.settings import RestSettings

    os.environ["AUTH_MODE"] = "off"
    err.print("[yellow]AUTH_MODE=off:[/] the local ecosystem serves WITHOUT checking tokens")
    if not os.environ.get("BASE_SERVICE_URL"):
        rest = RestSettings()
        # every service is routed on the one shared port, as the ingress would route them
        os.environ["BASE_SERVICE_URL"] = f"http://{rest.host}:{port or rest.port}/api/"
        err.print(f"BASE_SERVICE_URL unset: calls go to {os.environ['BASE_SERVICE_URL']}", markup=False)
    tokens = sorted(
        {c.token for d in descriptions for c in d.consumes}
        | {p.token for d in descriptions for p in d.produces}
    )
    for token in tokens:
        if not os.environ.get(token):
            os.environ[token] = token
            err.print(f"topic {token} unset: using the topic name {token!r}", markup=False, highlight=False)


def up(
    specs: SpecsOption = None,
    out_dir: OutOption = None,
    port: Annotated[int | None, typer.Option("--port", help="Port of the shared REST server.")] = None,
) -> None:
    """Run every service of the specs in this process, on embedded backends unless configured."""
    from atlas_runtime.errors import ConfigurationError
    from atlas_runtime.service import serve_many

    workspace = _workspace(specs, out_dir)
    ecosystem = load_specs(workspace)
    _ensure_rendered(workspace, ecosystem)
    _prepare_imports(workspace)
    descriptions = [_description(spec) for spec in ecosystem.specs()]
    _local_defaults(descriptions, port)
    try:
        serve_many(descriptions, port=port)
    except ConfigurationError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    """Add the render pipeline's verbs to a typer application."""
    app.command("render")(render)
    app.command("diff")(diff)
    app.command("scaffold")(scaffold)
    app.command("run")(run)
    app.command("up")(up)
