import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _snakemake(workdir: Path, config, *args: str, check: bool = True, snakefile: Path = REPO / "Snakefile"
               ) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile (or a copy) in ``workdir`` with ``config`` (a dict or a YAML path)."""
    if isinstance(config, dict):
        path = workdir / "test-config.yaml"
        path.write_text(yaml.safe_dump(config))
        config = path
    result = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(snakefile), "--directory", str(workdir),
         "--configfile", str(config), *args],
        capture_output=True, text=True, timeout=1200,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def snakemake():
    return _snakemake
