import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))  # the shared references module (references.py)
BIN = Path(sys.executable).parent


def _snakemake(workdir: Path, config, *args: str, check: bool = True, snakefile: Path = REPO / "Snakefile"
               ) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile (or a copy) in ``workdir`` with ``config`` (a dict or a YAML path)."""
    if isinstance(config, dict):
        path = workdir / "test-config.yaml"
        path.write_text(yaml.safe_dump(config))
        config = path
    # without the workflow profile (profiles/default): its 10 s scheduler window would keep each
    # run's process alive up to 10 s after its last job (Snakemake's re-evaluation timer)
    result = subprocess.run(
        [str(BIN / "snakemake"), "--snakefile", str(snakefile), "--directory", str(workdir),
         "--configfile", str(config), "--workflow-profile", "none", *args],
        capture_output=True, text=True, timeout=1200,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def snakemake():
    return _snakemake


def _tiny_study(generation: dict, train_images: int = 3) -> dict:
    """A one-model study on a few 64x128 demo images: the base config of the generation
    stage's workflow tests (``generation`` is theirs)."""
    return {
        "datasets": {"cityscapes": {"format": "cityscapes", "source": "demo"}},
        "demo": {"seed": 2, "height": 64, "width": 128,
                 "cityscapes": {"train": {"aachen": train_images}, "val": {"lindau": 2}}},
        "models": {"segformer_b0": {"family": "SegFormer",
                                    "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"}},
        "model_training": {"iterations": 2, "batch_size": 2, "crop_size": [64, 128]},
        "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val"}},
        "evaluation": {"calibration_pixels": 300, "batch_size": 2},
        "analysis": {"comparisons": {}},
        "generation": generation,
    }


@pytest.fixture(scope="session")
def tiny_study():
    return _tiny_study


@pytest.fixture(scope="session", autouse=True)
def openmmlab_with_mmdet():
    """One test process loads Mask2Former models and others alike: import mmseg with mmdet first
    (a job imports it without mmdet when its model does not need it: import_openmmlab)."""
    from segrel.models.segmentors import import_openmmlab

    import_openmmlab("mmseg", "mmdet")
