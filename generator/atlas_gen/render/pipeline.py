"""The render flow: validated specs in, a formatted `{relative path: text}` tree out.

`render_tree(specs)` reads as the architecture: build a view-model per `ServiceSpec`,
render its templates, format all Python at once, add the manifest. Nothing here reads
the spec files or touches the output folder; the loader, `writer` and `drift` do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from atlas_gen.render.environment import SUFFIX, environment, service_templates
from atlas_gen.render.formatting import format_python
from atlas_gen.render.manifest import with_manifest
from atlas_gen.render.views import ServiceView, build_service
from atlas_spec import ServiceSpec

Progress = Callable[[str], None]

# Templates rendered only when the spec uses the feature they cover.
_OPTIONAL: dict[str, Callable[[ServiceView], bool]] = {
    "tables.py.jinja": lambda s: s.database is not None,
    "sagas.py.jinja": lambda s: s.saga_spec is not None,
}


def render_service(view: ServiceView) -> dict[str, str]:
    """The unformatted files of one service, keyed by path relative to the output folder."""
    env = environment()
    files = {}
    for name in service_templates():
        if name in _OPTIONAL and not _OPTIONAL[name](view):
            continue
        text = env.get_template(name).render(service=view)
        files[f"{view.package}/{name.removesuffix(SUFFIX)}"] = text
    return files


def render_tree(specs: Iterable[ServiceSpec], *, progress: Progress | None = None) -> dict[str, str]:
    """Render every service spec into one formatted tree, plus its manifest.

    Args:
        specs: the validated specs (e.g. `Ecosystem.specs()`), in any order.
        progress: called with each service name as it is rendered.

    Returns:
        relative path -> text, sorted by path; the same specs always give the same bytes.
    """
    views = sorted((build_service(spec) for spec in specs), key=lambda v: v.name)
    files: dict[str, str] = {}
    for view in views:
        if progress:
            progress(view.name)
        files.update(render_service(view))
    return dict(sorted(with_manifest(format_python(files)).items()))
