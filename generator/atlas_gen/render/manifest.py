"""The manifest of a generated tree: which files the generator owns, and their hashes.

`generated/.atlas-manifest.json` lists every generated file (relative path, sorted) with
the SHA-256 of its content and the generator version. It holds no timestamps and no
absolute paths, so the same specs always give the same manifest. The writer uses it to
prune files that a render no longer produces and to spot hand-edited files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from atlas_gen import __version__

MANIFEST_NAME = ".atlas-manifest.json"


def digest(text: str) -> str:
    """SHA-256 hex digest of a file's UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """The files a render owns, path -> sha256, and the generator version that wrote them."""

    files: Mapping[str, str] = field(default_factory=dict)
    version: str = __version__

    @classmethod
    def of(cls, files: Mapping[str, str]) -> Manifest:
        """The manifest of a rendered tree (path -> text); the manifest file itself is excluded."""
        return cls({p: digest(t) for p, t in sorted(files.items()) if p != MANIFEST_NAME})

    def to_text(self) -> str:
        """Stable JSON: sorted keys, two-space indent, trailing newline."""
        body = {"generator": "atlas-gen", "version": self.version, "files": dict(sorted(self.files.items()))}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def read(cls, out_dir: Path) -> Manifest:
        """The manifest in `out_dir`, or an empty one when there is none or it is unreadable."""
        path = out_dir / MANIFEST_NAME
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            files = body["files"]
            version = str(body.get("version", ""))
        except (OSError, ValueError, KeyError, TypeError):
            return cls({}, "")
        if not isinstance(files, dict):
            return cls({}, version)
        return cls({str(k): str(v) for k, v in files.items()}, version)


def with_manifest(files: Mapping[str, str]) -> dict[str, str]:
    """The rendered tree plus its manifest file, so drift checks cover the manifest too."""
    return {**files, MANIFEST_NAME: Manifest.of(files).to_text()}
