# Helper functions and constants of stage "detect", used by ../detect.smk.
import re
from dataclasses import asdict

from segrel.detect.annotations import annotation_file
from segrel.detect.checks import detection_test_sets, detector_source, fetched_detector
from segrel.detect.detectors import mmdet_config_dir

DETECTION = config["detection"]
DETECTORS = DETECTION["detectors"]
DEMO_DETECTORS = [n for n, d in DETECTORS.items() if detector_source(d) == "demo"]
# released checkpoints: from mmdet's metafiles (zoo) or named by URL (url)
FETCHED_DETECTORS = [n for n, d in DETECTORS.items() if detector_source(d) != "demo"]
# {test set: {dataset, source, split, subset, kind, condition, severity, norm, attack}}
DETECTION_TEST_SETS = detection_test_sets(config)


def detector_files(detector):
    """(config, checkpoint) of a detector, as rule train_demo_detector / fetch_detector write them."""
    stem = f"resources/detectors/{detector}/{detector}"
    return {"config": f"{stem}.py", "checkpoint": f"{stem}.pth"}


def annotations_path(dataset, split):
    """The COCO boxes of a Cityscapes-layout dataset's split (rule detection_annotations)."""
    return f"resources/detection/{dataset}/{annotation_file(split)}"


def detection_test_set_params(names):
    """{test set: segrel.detect.evaluation.DetectionTestSet's fields}, in the order of ``names``."""
    return {
        name: {
            "root": dataset_root(DETECTION_TEST_SETS[name]["dataset"]),
            "split": DETECTION_TEST_SETS[name]["split"],
            "subset": DETECTION_TEST_SETS[name]["subset"],
            "annotations": annotations_path(
                DETECTION_TEST_SETS[name]["source"], DETECTION_TEST_SETS[name]["split"]
            ),
            "attack": DETECTION_TEST_SETS[name]["attack"],
        }
        for name in names
    }


def detection_inputs(names):
    """The datasets and annotation files the test sets ``names`` read."""
    params = detection_test_set_params(names)
    data = {dataset_input(DETECTION_TEST_SETS[name]["dataset"]) for name in names}
    return sorted(data | {spec["annotations"] for spec in params.values()})


def detection_annotation_files():
    """{test set: the COCO file of its boxes}."""
    return {
        name: spec["annotations"]
        for name, spec in detection_test_set_params(DETECTION_TEST_SETS).items()
    }


def detectors_run_by(jobs):
    """Wildcard regex of the detectors whose jobs are cut as ``jobs`` says (as models_evaluated_by)."""
    if DETECTION["jobs"] != jobs:
        return "^$"
    return "|".join(map(re.escape, DETECTORS)) or "^$"


def detection_shards():
    """{(detector, test set): [shard detection files]} of every pair."""
    shards = DETECTION["shards"]
    return {
        (detector, test_set): [
            f"results/detect/detections/{detector}/{test_set}/shard-{shard}-of-{shards}.npz"
            for shard in range(shards)
        ]
        for detector in DETECTORS
        for test_set in DETECTION_TEST_SETS
    }


def detection_conditions():
    """{test set: {kind, condition, family, severity, norm, gam}} for the tables."""
    keys = ("kind", "condition", "family", "severity", "norm", "gam")
    return {
        name: {key: record.get(key) for key in keys}
        for name, record in DETECTION_TEST_SETS.items()
    }


def detector_training_settings(wildcards):
    """Everything that shapes one demo detector (segrel.detect.detectors.DetectorTrainingSettings)."""
    spec, training = DETECTORS[wildcards.detector], DETECTION["training"]
    keys = (
        "image_size",
        "resize_ratio",
        "iterations",
        "batch_size",
        "learning_rate",
        "seed",
    )
    return {
        "base": spec["base"],
        "overrides": spec["overrides"],
        **{key: training[key] for key in keys},
    }


def detector_families():
    """{detector: architecture family} for the figures' markers."""
    return {name: spec.get("family", name) for name, spec in DETECTORS.items()}


DETECT_TABLES = {
    "metrics": "results/tables/detect/metrics.csv",
    "corruptions": "results/tables/detect/corruptions.csv",
    "attacks": "results/tables/detect/attacks.csv",
    "robustness": "results/tables/detect/robustness.csv",
}


def detect_figures():
    """{figure: the table it draws} the config asks for."""
    kinds = {record["kind"] for record in DETECTION_TEST_SETS.values()}
    figures = {"corruptions": "corruptions"} if "corruption" in kinds else {}
    figures |= {"attacks": "attacks"} if "attack" in kinds else {}
    if "attack" in kinds:  # ReM against clean mAP and GAM
        figures["robustness"] = "robustness"
    return figures


def detect_outputs():
    """Every table and figure of the detect stage (none without detectors)."""
    if not DETECTION_TEST_SETS:
        return []
    return list(DETECT_TABLES.values()) + [
        f"results/figures/detect/{figure}.png" for figure in detect_figures()
    ]
