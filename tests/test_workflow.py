"""The Snakemake workflow itself: DAG, lint, config errors, a small real run, re-run tracking."""

import subprocess
import sys
from pathlib import Path

import pytest

from segrel.core import formats

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.workflow

TINY = {
    "demo": {
        "seed": 3,
        "height": 64,
        "width": 128,
        "cityscapes": {"train": {"aachen": 2}, "val": {"frankfurt": 1, "lindau": 1, "munster": 1}},
        "acdc": {"conditions": ["fog", "night"], "images": {"train": 1, "val": 1}},
        "idd": {"images": {"val": 2}},
        "smiyc": {"images": 2, "objects_per_image": [1, 1]},
    }
}


def test_default_config_builds_the_dag(snakemake, tmp_path):
    result = snakemake(tmp_path, REPO / "config" / "config.yaml", "-n")
    assert "demo_dataset" in result.stdout and "all" in result.stdout


def test_lint_is_clean():
    result = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_snakefmt_is_clean():
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "workflow" / "rules").rglob("*.smk")))]
    result = subprocess.run([str(BIN / "snakefmt"), "--check", *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "config, message",
    [
        ({"demo": {"seed": "zero"}}, "config key 'demo.seed': 'zero' is not of type 'integer'"),
        ({"demo": {"sed": 1}}, "unknown config key 'demo.sed'"),
        ({"dataset": {}}, "unknown config key 'dataset'"),
        ({"datasets": {"cs": {"format": "kitti"}}}, "config key 'datasets.cs.format': 'kitti' is not one of"),
        ({"datasets": {"cs": {"format": "cityscapes", "source": "local"}}}, "'path' is a required property"),
        ({"demo": {"smiyc": {"objects_per_image": [1]}}}, "config key 'demo.smiyc.objects_per_image'"),
        ({"analysis": {"comparisons": {"fog": {"real": "acdc_fgo", "proxies": ["cityscapes_val"]}}}},
         "config key 'analysis.comparisons.fog.real': no test set named 'acdc_fgo'"),
        ({"analysis": {"comparisons": {"fog": {"real": "acdc_fog", "proxies": ["cityscapes_val"],
                                               "metrics": ["ood_auroc_mps"]}}}},
         "config key 'analysis.comparisons.fog.metrics': unknown metric 'ood_auroc_mps'; known metrics are: images, "),
        ({"models": {"early": {"family": "SegFormer", "snapshot_of": "late", "training": {"iterations": 5}}}},
         "config key 'models.early.snapshot_of': 'late' is not a demo model with a training run of its own"),
        ({"models": {"late": {"family": "SegFormer", "base": "x.py", "training": {"iterations": 5}},
                     "early": {"family": "SegFormer", "snapshot_of": "late", "training": {"iterations": 5}}}},
         "config key 'models.early.snapshot_of': training.iterations must be fewer than the 5 of 'late''s run"),
        ({"models": {"late": {"family": "SegFormer", "base": "x.py"},
                     "early": {"family": "SegFormer", "snapshot_of": "late", "base": "y.py",
                               "training": {"iterations": 5, "learning_rate": 0.1}}}},
         "config key 'models.early.snapshot_of': a snapshot takes everything but training.iterations from 'late'; "
         "remove base, training.learning_rate"),
        ({"models": {"early": {"family": "SegFormer", "snapshot_of": "late"}}},
         "config key 'models.early.training': 'iterations' is a required property"),
        ({"analysis": {"confidence_maps": {"model": "segformer"}}},
         "config key 'analysis.confidence_maps.model': no model named 'segformer'"),
    ],
)
def test_bad_config_stops_before_any_job(snakemake, tmp_path, config, message):
    result = snakemake(tmp_path, config, "--cores", "1", check=False)
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_duplicate_keys_and_yaml_errors_name_the_file_and_line(snakemake, tmp_path):
    # a second fcn_r18 would silently replace the first in Snakemake's loader
    config = tmp_path / "study.yaml"
    config.write_text("models:\n  fcn_r18: {family: FCN, base: a.py}\n  fcn_r18: {family: FCN, base: b.py}\n")
    result = snakemake(tmp_path, config, "-n", check=False)
    assert result.returncode != 0
    message = f"{config}, line 3: duplicate key 'fcn_r18' (first at line 2): keep one of them"
    assert message in result.stdout + result.stderr
    # the default config file (no --configfile): a YAML error named by file and line
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("demo:\n  seed: 1\nmodels: {a: {family: A}\n")
    result = subprocess.run([str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "-n"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "config/config.yaml, line 4: not valid YAML (expected ',' or '}', but got '<stream end>')" in (
        result.stdout + result.stderr)
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_data_stage_runs_and_is_tracked(snakemake, tmp_path):
    snakemake(tmp_path, TINY, "--cores", "2", "data")
    root = tmp_path / "resources" / "datasets"
    assert len(formats.list_samples("cityscapes", root / "cityscapes", "val")) == 3
    assert len(formats.list_samples("acdc", root / "acdc", "train", "night")) == 1
    assert len(formats.list_samples("idd", root / "idd", "val")) == 2
    assert len(formats.list_samples("smiyc", root / "smiyc")) == 2
    for name in ("cityscapes", "acdc", "idd", "smiyc"):
        log = tmp_path / "results" / "logs" / "data" / "demo_dataset" / f"{name}.log"
        assert log.read_text().strip().endswith("done")
        assert (tmp_path / "results" / "benchmarks" / "data" / "demo_dataset" / f"{name}.tsv").is_file()

    assert "Nothing to be done" in snakemake(tmp_path, TINY, "-n", "data").stdout

    changed = {"demo": {**TINY["demo"], "idd": {"images": {"val": 3}}}}
    rerun = snakemake(tmp_path, changed, "-n", "data").stdout
    assert "dataset=idd" in rerun and "dataset=cityscapes" not in rerun  # only what the change touches
