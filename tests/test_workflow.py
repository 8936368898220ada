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
    # as `snakemake --cores 2` from the repository runs it: with the workflow profile
    profile = REPO / "profiles" / "default"
    result = snakemake(tmp_path, REPO / "config" / "config.yaml", "-n", "--workflow-profile", str(profile))
    assert "demo_dataset" in result.stdout and "all" in result.stdout
    assert "profiles/default" in result.stderr + result.stdout


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
        ({"models": {"m": {"family": "SegFormer", "overrides": {"model.decode_head.num_clases": 3},
                           "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"}}},
         "config key 'models.m.overrides': 'model.decode_head.num_clases': model.decode_head has no key 'num_clases' "
         "(did you mean 'num_classes'?); its keys: type, in_channels, "),
        ({"models": {"m": {"family": "SegFormer", "base": "segformer/segformer_b0.py"}}},
         "config key 'models.m.base': mmseg ships no config 'segformer/segformer_b0.py'"),
        ({"datasets": {"cs": {"format": "cityscapes", "source": "local", "path": "no/such/folder"}}},
         "config key 'datasets.cs.path': no folder no/such/folder (relative paths start in the working directory)"),
        ({"datasets": {"cs": {"format": "cityscapes", "source": "download", "mirror": "https://me:pw@mirror.local"}}},
         "config key 'datasets.cs.mirror': credentials do not belong in a URL"),
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


def test_bad_data_and_broken_models_stop_evaluation_naming_them(snakemake, tmp_path):
    """A local dataset is tracked through its listing: a file changed inside it re-runs the jobs
    that read it, and a label id the format lacks, a damaged image or a checkpoint of NaN weights
    stops the evaluation with one line naming it, leaving the last metrics table as it was."""
    import numpy as np
    import torch
    from PIL import Image

    from segrel.data.demo.writers import write_cityscapes

    data = tmp_path / "my_cityscapes"
    write_cityscapes(data, seed=3, height=64, width=128, cities={"train": {"aachen": 2}, "val": {"lindau": 2}})
    study = {"datasets": {"cityscapes": {"format": "cityscapes", "source": "local", "path": str(data)}},
             "models": {"segformer_b0": {"family": "SegFormer",
                                         "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"}},
             "model_training": {"iterations": 2, "batch_size": 2, "crop_size": [64, 128]},
             "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val"}},
             "evaluation": {"calibration_pixels": 300, "batch_size": 1}, "analysis": {"comparisons": {}},
             "generation": {"domains": {}, "anomalies": {"enabled": False}}}
    snakemake(tmp_path, study, "--cores", "2", "evaluate")
    metrics = tmp_path / "results" / "tables" / "metrics.csv"
    log = tmp_path / "results" / "logs" / "evaluate" / "evaluate_shard" / "segformer_b0" / "cityscapes_val"

    def error_line(config) -> str:
        """The evaluation's error, the last line of its log (its traceback above it)."""
        assert snakemake(tmp_path, config, "--cores", "1", "evaluate", check=False).returncode != 0
        return (log / "shard-0-of-1.log").read_text().strip().splitlines()[-1]

    before = metrics.read_bytes()
    assert "Nothing to be done" in snakemake(tmp_path, study, "-n", "evaluate").stdout

    # a label rewritten with an id Cityscapes does not have: re-evaluated, and refused
    label = sorted((data / "gtFine" / "val" / "lindau").glob("*_gtFine_labelIds.png"))[0]
    ids = np.asarray(Image.open(label)).copy()
    ids[:2, :3] = 200
    Image.fromarray(ids).save(label)
    plan = snakemake(tmp_path, study, "-n", "evaluate", "--quiet", "rules").stdout
    assert "local_dataset_manifest" in plan and "evaluate_shard" in plan
    assert error_line(study) == (
        f"ValueError: segformer_b0 on cityscapes_val: {label}: label ids that cityscapes does not have: 200 (6 px) "
        "(valid: 0-33); fix the file, or set unknown_ids: void for this dataset if it is known to carry such ids")
    assert metrics.read_bytes() == before
    # ... unless the dataset is declared to carry such ids
    void = {**study, "datasets": {"cityscapes": {**study["datasets"]["cityscapes"], "unknown_ids": "void"}}}
    snakemake(tmp_path, void, "--cores", "1", "evaluate")

    # a truncated image: the file is named
    image = sorted((data / "leftImg8bit" / "val" / "lindau").glob("*.png"))[1]
    intact = image.read_bytes()
    image.write_bytes(intact[:300])
    assert error_line(void) == (f"ValueError: segformer_b0 on cityscapes_val: {image}: cannot be read as an image; "
                                "restore it from the dataset's archive or re-run the rule that wrote it")

    image.write_bytes(intact)
    snakemake(tmp_path, void, "--cores", "1", "evaluate")
    with_void = metrics.read_bytes()

    # a checkpoint of NaN weights: the model, test set and image are named
    checkpoint = tmp_path / "resources" / "models" / "segformer_b0" / "segformer_b0.pth"
    weights = torch.load(checkpoint, weights_only=False)
    weights["state_dict"] = {key: value.float().fill_(float("nan")) if value.is_floating_point() else value
                             for key, value in weights["state_dict"].items()}
    torch.save(weights, checkpoint)
    first = data / "leftImg8bit" / "val" / "lindau" / label.name.replace("gtFine_labelIds", "leftImg8bit")
    assert error_line(void) == (f"ValueError: segformer_b0 on cityscapes_val: {first}: the model's outputs are not "
                                "finite (NaN or inf); its checkpoint or config is broken (e.g. weights of NaN)")
    assert metrics.read_bytes() == with_void != before  # no failed run wrote a table


def test_check_config_tool_names_what_snakemake_cannot(tmp_path):
    """Snakemake reads --configfile before the workflow: tools/check_config.py names the line."""
    bad = tmp_path / "study.yaml"
    bad.write_text("models:\n  a: {family: A\n  b: 1\n")
    tool = [str(BIN / "python"), str(REPO / "tools" / "check_config.py")]
    result = subprocess.run([*tool, str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == (f"{bad}, line 3: not valid YAML (expected ',' or '}}', but got ':'); check the "
                                     "indentation, brackets and quotes up to here")
    result = subprocess.run([*tool, str(tmp_path / "missing.yaml")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and result.stderr.strip() == f"no config file {tmp_path / 'missing.yaml'}"
    result = subprocess.run([*tool, str(REPO / "config" / "paper.yaml")], capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
