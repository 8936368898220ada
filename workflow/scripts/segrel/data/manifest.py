"""What a local dataset holds, so that a change inside it re-runs exactly the jobs that read it.

Snakemake sees a local dataset (``source: local``) as a folder it did not make: editing,
replacing or restoring files inside it changes nothing it tracks. Its listing (every file's
relative path, size and modification time) is cheap to take at each invocation
(:func:`fingerprint`, a param of rule ``local_dataset_manifest``); when it changes, that rule
writes the listing anew (:func:`write_manifest`), and every job that takes the manifest as
input is out of date.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def listing(root: str | Path) -> list[tuple[str, int, int]]:
    """(relative path, size, modification time in ns) of every file under ``root``, sorted;
    symbolic links followed (a copy of links to elsewhere lists its targets)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (a local dataset's path)")
    files = []
    for folder, _, names in os.walk(root, followlinks=True):
        for name in names:
            path = Path(folder) / name
            stat = path.stat()
            files.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(files)


def manifest_text(root: str | Path) -> str:
    """The listing as tab-separated lines under a header."""
    lines = ["path\tsize\tmtime_ns", *(f"{path}\t{size}\t{mtime}" for path, size, mtime in listing(root))]
    return "\n".join(lines) + "\n"


def fingerprint(root: str | Path) -> str:
    """A short digest of :func:`manifest_text`: any added, removed, resized or touched file changes it.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as root:
    ...     _ = (Path(root) / "a.png").write_bytes(b"x")
    ...     before = fingerprint(root)
    ...     _ = (Path(root) / "a.png").write_bytes(b"xy")
    ...     before != fingerprint(root)
    True
    """
    return hashlib.sha256(manifest_text(root).encode()).hexdigest()[:16]


def write_manifest(root: str | Path, out: str | Path) -> int:
    """Write the listing of ``root`` to ``out`` atomically; the number of files."""
    from segrel.core.io import atomic_file

    text = manifest_text(root)
    with atomic_file(out) as handle:
        handle.write(text)
    return text.count("\n") - 1
