"""config/paper.yaml: the full study's DAG builds with no data present, and its models are the
ones ../shared/REFERENCE.md lists (mIoU as typed there, from the papers' tables)."""

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "config" / "paper.yaml"

# REFERENCE.md, "Models": Cityscapes val mIoU (single scale) per model of the list
REFERENCE_MIOU = {
    "setr_pup": 79.21, "setr_naive": 78.10, "setr_mla": 77.00,
    "segformer_b0": 76.54, "segformer_b1": 78.56, "segformer_b2": 81.08, "segformer_b3": 81.94,
    "segformer_b4": 81.89, "segformer_b5": 82.25,
    "deeplabv3plus_r18": 76.26, "deeplabv3plus_r50": 79.83, "deeplabv3plus_r101": 80.98,
    "upernet_r50": 79.39, "upernet_r101": 80.10, "ann_r50": 78.88, "ann_r101": 78.80,
    "apcnet_r50": 78.79, "apcnet_r101": 78.45, "bisenetv1_r18": 74.37, "bisenetv1_r50": 77.68,
    "bisenetv2": 73.21, "ccnet_r50": 79.29, "ccnet_r101": 79.45, "gcnet_r50": 78.68, "gcnet_r101": 79.18,
    "icnet_r18": 74.43, "icnet_r50": 76.29, "icnet_r101": 76.15, "lraspp_mobilenetv3": 69.54,
    "pspnet_r18": 75.90, "pspnet_r50": 79.59, "pspnet_r101": 79.77, "semfpn_r50": 74.52, "semfpn_r101": 75.80,
}


def test_paper_models_are_the_reference_list():
    from segrel.models.zoo import resolve

    models = yaml.safe_load(PAPER.read_text())["models"]
    assert set(REFERENCE_MIOU) <= set(models)
    for name, miou in REFERENCE_MIOU.items():
        released = resolve(models[name]["zoo"])
        assert released.dataset == "Cityscapes"
        assert released.score == pytest.approx(miou, abs=0.015), name  # 80.98 vs the metafile's 80.97


def test_paper_dag_builds_without_data(snakemake, tmp_path):
    # run where the demo's config/config.yaml is, as from the repository: --configfile replaces
    # it (a deep merge would add the demo's six models and test sets to the paper study)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    # with S_robust's optional training switched on for three zoo models (one edit of the file)
    paper = yaml.safe_load(PAPER.read_text())
    paper["stress"]["scenario_training"]["models"] = ["segformer_b0", "deeplabv3plus_r50", "upernet_r50"]
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(paper))
    result = snakemake(tmp_path, tmp_path / "paper.yaml", "-n")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, re.MULTILINE))
    models = yaml.safe_load(PAPER.read_text())["models"]
    assert int(counts["fetch_zoo_model"]) == len(models) >= 40
    # 9 real test sets (RELIS' Cityscapes test and calibration cities beside the whole val set)
    # + 5 synthetic domains by SD 1.5 and 5 by SDXL (Table 1) + their real reference + the
    # inpainted objects and their control
    # + 58 corrupted copies of Cityscapes val (19 2D, 6 3DCC and 2 physics at severity 3, six
    # curves at the 4 other severities, 7 background scenarios, ai_background painted by SD
    # inpainting), one job per (model, test set): the paper config keeps evaluation.jobs
    # per_test_set; + 7 scenario copies of Cityscapes train, each of the three models trained
    # further on each and evaluated on its scenario's test set
    # + IDD val in 3D fog, from Depth Anything's metric depth (estimated once)
    # + SemSegBench's 6 threat models on Cityscapes val, attacked in each model's evaluation
    # job (no copy on disk), with ReM, their figures and one model's attacked confidence maps
    # + DetecBench's COCO val2017 in the same corruptions but physics_rain (26 + 6 curves x 4), 3D
    # ones from COCO's estimated depth; detectors on their label space's sets only (evaluate_shard:
    # no segmenter on COCO): 2 Cityscapes detectors x (1 + 51 + 4), 46 COCO ones x (1 + 50 + 4)
    assert int(counts["stress_dataset"]) == 27 + 6 * 4 + 6 + 6 + 1 + 26 + 6 * 4
    assert int(counts["estimate_depth"]) == 2
    detectors = yaml.safe_load(PAPER.read_text())["detection"]["detectors"]
    assert int(counts["fetch_detector"]) == len(detectors) == 48
    assert int(counts["detect_shard"]) == 2 * (1 + 51 + 4) + 46 * (1 + 50 + 4)
    assert int(counts["stress_painted_dataset"]) == 2  # ai_background: the test set and the train split
    assert int(counts["stress_scenario_model"]) == int(counts["evaluate_scenario_model"]) == 3 * 7
    assert int(counts["stress_s_robust"]) == 1
    assert int(counts["evaluate_shard"]) == len(models) * (22 + 58 + 1 + 6) and "evaluate_model" not in counts
    assert int(counts["train_ablation_controlnet"]) == 1 and int(counts["generate_ablation_domain_shard"]) == 5 * 2
    assert int(counts["stress_attacks"]) == int(counts["plot_attacked_confidence"]) == 1
    test_sets = yaml.safe_load(PAPER.read_text())["test_sets"]
    assert test_sets["cityscapes_test"]["subset"] == "frankfurt"
    assert test_sets["cityscapes_calibration"]["subset"] == ["lindau", "munster"]
    assert int(counts["domain_reference_dataset"]) == 1 and int(counts["label_map_fidelity"]) == 1
    # Cityscapes' depth packages too (disparity, camera: the 3D corruptions and physics proxies),
    # COCO's images and annotations
    assert int(counts["fetch_dataset_archive"]) == 10 and int(counts["prepare_dataset"]) == 5
    assert "demo_dataset" not in counts and "train_demo_model" not in counts
    assert "pretrain_demo_generator" not in counts
    # Table 2: the zoo's Swin-L fine-tuned with COCO's and the inpainted objects, each evaluated on
    # RoadAnomaly21 and Cityscapes val; the base model's evaluation is the study's
    assert int(counts["train_outlier_model"]) == int(counts["outlier_objects"]) == 2
    assert int(counts["evaluate_outlier_model"]) == 2 * 2 and int(counts["outlier_table"]) == 1


def test_paper_controlnet_reads_label_maps_as_genval_does():
    """REFERENCE.md: the condition is the single-channel (id + 1) / 34 map, not a palette."""
    import numpy as np

    from segrel.config import validate_config
    from segrel.generate.controlnet import condition_map

    config = validate_config(yaml.safe_load(PAPER.read_text()), REPO / "workflow" / "schemas" / "config.schema.yaml")
    controlnet = config["generation"]["controlnet"]
    assert controlnet["condition"] == "label_ids"
    ids = np.array([[0, 7, 33]], dtype=np.uint8)
    np.testing.assert_array_equal(condition_map(ids, controlnet["condition"]),
                                  np.repeat(((ids + 1) / 34.0)[None], 3, axis=0).astype(np.float32))
