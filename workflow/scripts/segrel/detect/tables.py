"""The detect stage's tables: COCO mAP per (detector, test set), mAP per corruption and per attack
beside the detector's clean mAP on the same images, and ReM / GAM per detector (the stress
stage's table code, with mAP as the measure)."""

from __future__ import annotations

import pandas as pd

from segrel.detect.evaluation import coco_metrics, load_merged
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
    clean_maps = {}  # by (detector, images): the corrupted copies share theirs

    def clean_value(detector, test_set):
        """The detector's clean mAP on the images of ``test_set`` (an attack may take the first few)."""
        images = (detector, tuple(detections[detector, test_set].image_names))
        if images not in clean_maps:
            clean_detections = detections[detector, clean].subset(images[1])
            clean_maps[images] = coco_metrics(clean_detections, annotations[clean])[PRIMARY]
        return clean_maps[images]

    rows = [{"model": detector, "test_set": test_set, **conditions[test_set], "images": len(found.image_names),
             **coco_metrics(found, annotations[test_set]), "clean_map_same_images": clean_value(detector, test_set)}
            for (detector, test_set), found in detections.items()]
    metrics = pd.DataFrame(rows).sort_values(["model", "test_set"], kind="stable").reset_index(drop=True)
    table = metrics.pivot(index="model", columns="test_set", values=PRIMARY).loc[detectors]

    def kind(name):
        return {test_set: record for test_set, record in conditions.items() if record["kind"] == name}

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

