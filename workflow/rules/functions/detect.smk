# Helper functions and constants of stage "detect", used by ../detect.smk.
import re
from dataclasses import asdict

from segrel.core.formats import dataset_format
from segrel.detect.annotations import annotation_file
from segrel.detect.checks import (
    detection_test_sets,
    detector_label_space,
    detector_source,
    fetched_detector,
    train_dataset,
)
from segrel.detect.detectors import LABEL_SPACES, mmdet_config_dir

DETECTION = config["detection"]
DETECTORS = DETECTION["detectors"]
DEMO_DETECTORS = [n for n, d in DETECTORS.items() if detector_source(d) == "demo"]
# released checkpoints: from mmdet's metafiles (zoo) or named by URL (url)
FETCHED_DETECTORS = [n for n, d in DETECTORS.items() if detector_source(d) != "demo"]
# {test set: {dataset, source, split, subset, images, format, clean, kind, condition, ...}}
DETECTION_TEST_SETS = detection_test_sets(config)
# {label space: [its test sets]}: a detector is evaluated on the sets of its label space
DETECTION_SETS_BY_SPACE = {
    space: [n for n, r in DETECTION_TEST_SETS.items() if r["format"] == space]
    for space in LABEL_SPACES
}
DETECTOR_SPACES = {n: detector_label_space(d, config) for n, d in DETECTORS.items()}


def detector_files(detector):
    """(config, checkpoint) of a detector, as rule train_demo_detector / fetch_detector write them."""
    stem = f"resources/detectors/{detector}/{detector}"
    return {"config": f"{stem}.py", "checkpoint": f"{stem}.pth"}


def annotations_path(dataset, split):
    """The COCO boxes of a dataset's split: COCO's own file in its folder, or the file rule
    detection_annotations makes of a Cityscapes-layout dataset's instance ids."""
    layout = dataset_format(config["datasets"][dataset]["format"]).layout
    if layout.annotations:
        return f"{dataset_root(dataset)}/{layout.annotations.format(split=split)}"
    return f"resources/detection/{dataset}/{annotation_file(split)}"


def generated_annotations(dataset, split):
    """[the annotation file of a dataset's split] where a rule makes it, else [] (it comes with
    the dataset's folder, which is the input)."""
    if dataset_format(config["datasets"][dataset]["format"]).layout.annotations:
        return []
    return [annotations_path(dataset, split)]


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
            "format": DETECTION_TEST_SETS[name]["format"],
            "images": DETECTION_TEST_SETS[name]["images"],
        }
        for name in names
    }


def detection_inputs(names):
    """The datasets and generated annotation files the test sets ``names`` read."""
    records = [DETECTION_TEST_SETS[name] for name in names]
    data = {dataset_input(record["dataset"]) for record in records}
    boxes = {
        path
        for record in records
        for path in generated_annotations(record["source"], record["split"])
    }
    return sorted(data | boxes)


def detection_annotation_files():
    """{test set: the COCO file of its boxes}."""
    return {
        name: spec["annotations"]
        for name, spec in detection_test_set_params(DETECTION_TEST_SETS).items()
    }


def detection_annotation_inputs():
    """What holds every test set's COCO file: the file a rule makes, or the dataset it comes with."""
    return sorted(
        {
            path
            for record in DETECTION_TEST_SETS.values()
            for path in generated_annotations(record["source"], record["split"])
            or [dataset_input(record["source"])]
        }
    )


def detectors_run_by(jobs, space=None):
    """Wildcard regex of the detectors (of label space ``space``, or any) whose jobs are cut as
    ``jobs`` says (as models_evaluated_by)."""
    if DETECTION["jobs"] != jobs:
        return "^$"
    chosen = [n for n in DETECTORS if space in (None, DETECTOR_SPACES[n])]
    return "|".join(map(re.escape, chosen)) or "^$"


def detection_shards():
    """{(detector, test set): [shard detection files]} of every detector and every test set of
    its label space."""
    shards = DETECTION["shards"]
    return {
        (detector, test_set): [
            f"results/detect/detections/{detector}/{test_set}/shard-{shard}-of-{shards}.npz"
            for shard in range(shards)
        ]
        for detector, space in DETECTOR_SPACES.items()
        for test_set in DETECTION_SETS_BY_SPACE[space]
    }


def detection_conditions():
    """{test set: {clean, kind, condition, family, severity, norm, gam}} for the tables."""
    keys = ("clean", "kind", "condition", "family", "severity", "norm", "gam")
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
        "label_space": DETECTOR_SPACES[wildcards.detector],
        **{key: training[key] for key in keys},
    }


def detector_training_data(detector):
    """(dataset, its train split's COCO file) a demo detector learns from."""
    dataset = train_dataset(DETECTORS[detector], config)
    split = LABEL_SPACES[DETECTOR_SPACES[detector]].train_split
    return dataset, annotations_path(dataset, split)


def detector_families():
    """{detector: architecture family} for the figures' markers."""
    return {name: spec.get("family", name) for name, spec in DETECTORS.items()}


DETECT_TABLES = {
    "metrics": "results/tables/detect/metrics.csv",
    "corruptions": "results/tables/detect/corruptions.csv",
    "attacks": "results/tables/detect/attacks.csv",
    "robustness": "results/tables/detect/robustness.csv",
}
# mAP per attack iteration where detection.attacks.curves asks for it
ATTACK_CURVES = any(
    (record["attack"] or {}).get("curve") for record in DETECTION_TEST_SETS.values()
)
if ATTACK_CURVES:
    DETECT_TABLES["attack_curves"] = "results/tables/detect/attack_curves.csv"


def detect_figures():
    """{figure: the table it draws} the config asks for."""
    kinds = {record["kind"] for record in DETECTION_TEST_SETS.values()}
    figures = {"corruptions": "corruptions"} if "corruption" in kinds else {}
    figures |= {"attacks": "attacks"} if "attack" in kinds else {}
    if "attack" in kinds:  # ReM against clean mAP and GAM
        figures["robustness"] = "robustness"
    figures |= {"attack_curves": "attack_curves"} if ATTACK_CURVES else {}
    return figures


def detect_outputs():
    """Every table and figure of the detect stage (none without detectors)."""
    if not DETECTION_TEST_SETS:
        return []
    return list(DETECT_TABLES.values()) + [
        f"results/figures/detect/{figure}.png" for figure in detect_figures()
    ]
