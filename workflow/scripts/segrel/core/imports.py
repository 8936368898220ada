"""Which segrel source files a rule script really runs: the static import closure.

Snakemake re-runs a job when one of its inputs is newer than its outputs, but it tracks only a
rule's script, not the library the script imports. Each rule therefore lists as inputs the
files this module finds, read from the code itself at parse time (never hand-listed, so they
cannot drift): the script's ``import segrel...`` / ``from segrel... import ...`` statements,
those of every segrel module they reach (imports inside functions included: they run when the
function does), and the packages' ``__init__.py`` that importing a module executes.

Standard library only: the Snakefile imports it before any job runs.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "segrel"


def _module_file(library: Path, module: str) -> Path | None:
    """``segrel.a.b`` -> library/segrel/a/b.py or .../a/b/__init__.py (None if neither exists)."""
    base = library.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _package_of(library: Path, path: Path) -> str:
    """The package a file's relative imports start from (``segrel.core`` for core/io.py)."""
    parts = path.relative_to(library).with_suffix("").parts
    return ".".join(parts[:-1])


@cache  # every rule's closure reads the same files: parse each once per Snakefile parse
def _imported_modules(library: Path, path: Path) -> frozenset[str]:
    """segrel modules one file imports: ``import segrel.x``, ``from segrel.x import y`` (y a module
    or a name), relative imports inside the package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x / from ..core import y
                anchor = _package_of(library, path).split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                module = ".".join(anchor + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names
                         if _module_file(library, f"{module}.{alias.name}") is not None)
    return frozenset(found)


def _with_parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


@cache
def _closure(library: Path, path: Path) -> frozenset[Path]:
    files: set[Path] = set()
    pending = [(module, path) for module in _imported_modules(library, path)]  # (module, the file importing it)
    seen: set[str] = set()
    while pending:
        module, importer = pending.pop()
        for name in _with_parents(module):
            if name in seen:
                continue
            seen.add(name)
            file = _module_file(library, name)
            if file is None:
                raise ImportError(f"{importer} imports {module}, but {library} has no module {name}")
            files.add(file)
            pending.extend((imported, file) for imported in _imported_modules(library, file))
    return frozenset(files)


def import_closure(script: str | Path, library: str | Path) -> list[str]:
    """Sorted paths of every segrel source file ``script`` imports, directly or not.

    ``library`` is the folder holding the ``segrel`` package (workflow/scripts). Paths are
    given as ``library`` was (relative stays relative).

    >>> from pathlib import Path
    >>> library = Path(__file__).parents[2]
    >>> [Path(p).relative_to(library).as_posix() for p in import_closure(library / "synthetic_dataset.py", library)]
    ['segrel/__init__.py', 'segrel/core/__init__.py', 'segrel/core/io.py', 'segrel/core/logs.py']
    """
    library = Path(library)
    return sorted(str(file) for file in _closure(library, Path(script)))
