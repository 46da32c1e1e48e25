"""In-memory formatting of rendered Python files with ruff, in one batch.

Rendered text is written once to a private temporary folder, `ruff check --fix --select
I,F401` (import sorting, unused imports dropped) and `ruff format` run over the whole
folder, and the formatted text is read back. Running ruff twice per render instead of
twice per file keeps a 60-service render fast. The configuration is pinned on the
command line (`--isolated`) so the output never depends on the project the generator
runs in.

Formatted text is cached per generated package, by the SHA-256 of (ruff version,
options, every unformatted file of the package), in `$ATLAS_GEN_CACHE_DIR` (default
`~/.cache/atlas-gen/format`): a package whose templates produce the same text as before
skips ruff entirely. The cache holds ruff's own output,
so it never changes what is written; deleting it only costs time.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path

from ruff.__main__ import find_ruff_bin

LINE_LENGTH = 110
TARGET_VERSION = "py311"
FIRST_PARTY = ("atlas_runtime", "atlas_gen", "atlas_spec")


class FormattingError(RuntimeError):
    """Ruff rejected a rendered file: the template produced invalid Python."""


def _ruff_command() -> list[str]:
    # The ruff installed with atlas-gen (pinned), never another one earlier on PATH: its
    # version decides the bytes of generated files.
    return [find_ruff_bin()]


def _pinned_options() -> list[str]:
    # The runtime sorts as first-party, as in this project's own configuration, so the
    # committed generated/ tree passes the project's `ruff check` unchanged.
    return [
        "--isolated",
        "--line-length",
        str(LINE_LENGTH),
        "--target-version",
        TARGET_VERSION,
        "--config",
        f"lint.isort.known-first-party = {list(FIRST_PARTY)!r}".replace("'", '"'),
    ]


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FormattingError(
            f"ruff failed on rendered code ({' '.join(args[1:3])}):\n{done.stdout}{done.stderr}"
        )


@cache
def _cache_salt() -> str:
    try:
        version = metadata.version("ruff")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}|{' '.join(_pinned_options())}|"


def cache_dir() -> Path:
    """Where formatted text is cached (`$ATLAS_GEN_CACHE_DIR`, else `~/.cache/atlas-gen/format`)."""
    configured = os.environ.get("ATLAS_GEN_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "atlas-gen" / "format"


def _groups(python: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Python files by cache key: one entry per top-level package, keyed by all its text."""
    packages: dict[str, dict[str, str]] = {}
    for rel, text in python.items():
        packages.setdefault(rel.split("/", 1)[0], {})[rel] = text
    keys = {}
    for files in packages.values():
        digest = hashlib.sha256(_cache_salt().encode("utf-8"))
        for rel in sorted(files):
            digest.update(f"\0{rel}\0{files[rel]}".encode())
        keys[digest.hexdigest()] = files
    return keys


def _cached(key: str) -> dict[str, str] | None:
    try:
        found = json.loads((cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _remember(key: str, formatted: Mapping[str, str]) -> None:
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{key}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(dict(formatted), sort_keys=True), encoding="utf-8")
        os.replace(tmp, folder / f"{key}.json")
    except OSError:
        pass  # a read-only or full cache only costs speed


def _run_ruff(python: Mapping[str, str]) -> dict[str, str]:
    ruff = _ruff_command()
    with tempfile.TemporaryDirectory(prefix="atlas-gen-fmt-") as tmp:
        root = Path(tmp)
        for rel, text in python.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _run([*ruff, "check", "--fix", "--select", "I,F401", "--exit-zero", *_pinned_options(), "."], root)
        _run([*ruff, "format", *_pinned_options(), "."], root)
        return {rel: (root / rel).read_text(encoding="utf-8") for rel in python}


def format_python(files: Mapping[str, str]) -> dict[str, str]:
    """Format every `.py`/`.pyi` file of a rendered tree; other files pass through.

    Args:
        files: relative path -> rendered text.

    Returns:
        The same mapping with Python files sorted (imports) and formatted.

    Raises:
        FormattingError: when ruff cannot parse a rendered file.
    """
    python = {p: t for p, t in files.items() if p.endswith((".py", ".pyi"))}
    if not python:
        return dict(files)
    formatted: dict[str, str] = {}
    misses: dict[str, dict[str, str]] = {}
    for key, group in _groups(python).items():
        hit = _cached(key)
        if hit is not None and set(hit) == set(group):
            formatted.update(hit)
        else:
            misses[key] = group
    if misses:
        fresh = _run_ruff({rel: text for group in misses.values() for rel, text in group.items()})
        for key, group in misses.items():
            _remember(key, {rel: fresh[rel] for rel in group})
        formatted.update(fresh)
    return {**files, **formatted}
