"""The detect stage's tables: COCO mAP per (detector, test set), mAP per corruption and per attack
beside the detector's clean mAP on the same images, and ReM / GAM per detector (the stress
stage's table code, with mAP as the measure)."""

from __future__ import annotations

import pandas as pd

from segrel.detect.evaluation import Detections, coco_metrics, load_merged
from segrel.stress.tables import condition_table, gam_rows, rem_table

#: the mAP the corruption, attack and robustness tables compare (COCO's primary metric)
PRIMARY = "bbox_mAP"


def detection_tables(shards: dict[tuple[str, str], list[str]], annotations: dict[str, str],
                     conditions: dict[str, dict], clean: str) -> dict[str, pd.DataFrame]:
    """{metrics, corruptions, attacks, robustness} from the shard files of every (detector, test
    set) (``shards``), each test set's COCO file (``annotations``) and record (``conditions``:
    {kind, condition, family, severity, norm, gam}); ``clean``: the clean test set. GAM is the
    worst mAP over the corrupted sets marked ``gam`` (SemSegBench's 15 at stress.severity)."""
    detections = {key: load_merged(paths) for key, paths in shards.items()}
    detectors = sorted({detector for detector, _ in detections})
    rows, clean_on_images = [], {}
    for (detector, test_set), found in detections.items():
        same_images = _clean_on_images(detections[detector, clean], found, annotations[clean])
        clean_on_images[detector, test_set] = same_images
        rows.append({"model": detector, "test_set": test_set, **conditions[test_set],
                     "images": len(found.image_names), **coco_metrics(found, annotations[test_set]),
                     "clean_map_same_images": same_images})
    metrics = pd.DataFrame(rows).sort_values(["model", "test_set"], kind="stable").reset_index(drop=True)
    table = metrics.pivot(index="model", columns="test_set", values=PRIMARY).loc[detectors]

    def kind(name):
        return {test_set: record for test_set, record in conditions.items() if record["kind"] == name}

    def clean_value(detector, test_set):
        return clean_on_images[detector, test_set]

    corrupted = {name: {"corruption": record["condition"], "family": record["family"],
                        "severity": record["severity"]} for name, record in kind("corruption").items()}
    attacked = {name: {"attack": record["condition"], "norm": record["norm"]}
                for name, record in kind("attack").items()}
    corruptions = condition_table(table, corrupted, ["corruption", "family", "severity"], clean_value, "map")
    attacks = condition_table(table, attacked, ["attack", "norm"], clean_value, "map")
    gam_sets = {name: record["condition"] for name, record in kind("corruption").items() if record.get("gam")}
    gams = gam_rows(table, gam_sets, clean, "map") if gam_sets else None
    robustness = rem_table(attacks, gams, "map") if attacked else (gams if gams is not None else pd.DataFrame())
    return {"metrics": metrics, "corruptions": corruptions, "attacks": attacks, "robustness": robustness}


def _clean_on_images(clean: Detections, found: Detections, annotations: str) -> float:
    """The clean mAP over the images of ``found`` (an attacked set may hold the first few only)."""
    if clean.image_names == found.image_names:
        return coco_metrics(clean, annotations)[PRIMARY]
    return coco_metrics(clean.subset(found.image_names), annotations)[PRIMARY]

