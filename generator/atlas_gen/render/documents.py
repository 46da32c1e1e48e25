"""Read spec documents from a folder: one YAML mapping per `*.yaml`/`*.yml` file, sorted.

The render pipeline works on these plain mappings (the normative spec shape), after
the front end has validated the same files; it never depends on file order. Files are
parsed by the front end's YAML reader (YAML 1.2 rules, libyaml fast path), so both see
the same values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atlas_gen.loader import find_spec_files
from atlas_gen.loader.yaml_source import ParsedYaml, parse_yaml


class SpecReadError(ValueError):
    """A spec file is not a YAML mapping with a `service` key."""


def _plain(value: Any) -> Any:
    """ruamel's containers as plain dicts and lists (keeps declaration order)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_documents(specs_dir: Path) -> list[dict[str, Any]]:
    """Every spec document of a folder, sorted by service name.

    Raises:
        SpecReadError: naming the file that is not a service spec.
    """
    documents = []
    for path in find_spec_files(specs_dir):
        parsed = parse_yaml(path.read_text(encoding="utf-8"), str(path))
        if not isinstance(parsed, ParsedYaml):
            raise SpecReadError("\n".join(d.format() for d in parsed))
        data = _plain(parsed.data)
        if not isinstance(data, dict) or "service" not in data:
            raise SpecReadError(f"{path}: not a service spec (a YAML mapping with a `service` key)")
        documents.append(data)
    return sorted(documents, key=lambda d: str(d["service"]))
