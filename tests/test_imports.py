"""Re-run tracking: each rule's library inputs are its script's import closure, read from the code."""

import re
import textwrap
from pathlib import Path

import pytest

from segrel.core.imports import import_closure

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "workflow" / "scripts"
#: rules that deliberately declare no library code: editing it must never download again
DOWNLOADS = {"fetch_dataset_archive", "fetch_zoo_model", "fetch_url_model", "verify_local_model", "fetch_detector"}


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_closure_follows_absolute_relative_and_function_level_imports(tmp_path):
    write_tree(tmp_path, {
        "segrel/__init__.py": "",
        "segrel/core/__init__.py": "",
        "segrel/core/io.py": "import os\n",
        "segrel/core/seeds.py": "from . import io\n",  # relative, a module
        "segrel/core/unused.py": "",
        "segrel/stage/__init__.py": "",
        "segrel/stage/a.py": "from ..core.seeds import thing\n",  # relative, a name
        "segrel/stage/b.py": "def f():\n    import segrel.stage.c\n",  # inside a function
        "segrel/stage/c.py": "import numpy\n",
        "script.py": "import sys\nfrom segrel.stage import a, b\n",
    })
    found = [Path(p).relative_to(tmp_path).as_posix() for p in import_closure(tmp_path / "script.py", tmp_path)]
    assert found == ["segrel/__init__.py", "segrel/core/__init__.py", "segrel/core/io.py", "segrel/core/seeds.py",
                     "segrel/stage/__init__.py", "segrel/stage/a.py", "segrel/stage/b.py", "segrel/stage/c.py"]


def test_a_missing_module_is_an_error_naming_the_file_that_imports_it(tmp_path):
    write_tree(tmp_path, {"segrel/__init__.py": "", "segrel/a.py": "from segrel.gone import x\n",
                          "script.py": "import segrel.a\n"})
    with pytest.raises(ImportError, match=r"segrel/a\.py imports segrel\.gone, but .* has no module segrel\.gone"):
        import_closure(tmp_path / "script.py", tmp_path)


def test_the_correlation_plot_depends_on_the_statistics_it_imports():
    found = {Path(p).relative_to(SCRIPTS).as_posix() for p in import_closure(SCRIPTS / "plot_correlation.py", SCRIPTS)}
    assert {"segrel/analyse/statistics.py", "segrel/analyse/figures.py", "segrel/core/figures.py"} <= found
    assert not any(p.startswith(("segrel/generate/", "segrel/data/", "segrel/models/")) for p in found), found


def rule_blocks():
    """(rule, its block of text, the rule it is derived from by ``use rule ... as``, or None)."""
    for smk in sorted((REPO / "workflow" / "rules").rglob("*.smk")):
        # a rule made in a loop is indented and named by its name: directive (detect_detector_<space>)
        for block in re.split(r"(?m)^(?=[ \t]*(?:use )?rule[ :])", smk.read_text())[1:]:
            derived = re.match(r"use rule (\w+) as (\w+)", block)
            if derived:
                yield derived.group(2), block, derived.group(1)
            elif re.match(r"\s+rule:", block):
                yield re.search(r'name:\s+f?"(\w+)', block).group(1), block, None
            else:
                yield re.match(r"rule (\w+)", block).group(1), block, None


def test_every_rule_script_declares_its_own_import_closure():
    """No hand-listed module names: each rule with a script names that script in library_code()
    (a rule derived from another runs, and names, the other's script)."""
    blocks = {rule: (block, base) for rule, block, base in rule_blocks()}
    checked = 0
    for rule, (block, base) in blocks.items():
        script = re.search(r'script:\s+"\.\./scripts/(\w+\.py)"', blocks[base][0] if base else block)
        code = re.findall(r"library_code\(([^)]*)\)", block)
        if script is None:
            assert not code, rule
            continue
        if rule in DOWNLOADS:
            assert not code, f"{rule} must not depend on the library (editing it would download again)"
            continue
        assert code == [f'"{script.group(1)}"'], f"rule {rule}: code=library_code(\"{script.group(1)}\") expected"
        checked += 1
    assert checked >= 20
