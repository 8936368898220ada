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
                     conditions: dict[str, dict]) -> dict[str, pd.DataFrame]:
    """{metrics, corruptions, attacks, robustness, attack_curves} from the shard files of every
    (detector, test set) (``shards``), each test set's COCO file (``annotations``) and record
    (``conditions``: {clean, kind, condition, family, severity, norm, gam}; ``clean``: the clean
    set it is a variant of). Each detector is compared on the sets of its clean set (its benchmark, column
    ``benchmark``). GAM is the worst mAP over the corrupted sets marked ``gam`` (SemSegBench's 15
    at stress.severity)."""
    detections = {key: load_merged(paths) for key, paths in shards.items()}
    clean_maps = {}  # by (detector, images): the corrupted copies share theirs

    def clean_value(detector, test_set):
        """The detector's clean mAP on the images of ``test_set`` (an attack may take the first few)."""
        images = (detector, tuple(detections[detector, test_set].image_names))
        if images not in clean_maps:
            clean = conditions[test_set]["clean"]
            on_images = detections[detector, clean].subset(images[1])
            clean_maps[images] = coco_metrics(on_images, annotations[clean])[PRIMARY]
        return clean_maps[images]

    rows = [{"model": detector, "test_set": test_set, "benchmark": conditions[test_set]["clean"],
             **{key: value for key, value in conditions[test_set].items() if key != "clean"},
             "images": len(found.image_names), **coco_metrics(found, annotations[test_set]),
             "clean_map_same_images": clean_value(detector, test_set)}
            for (detector, test_set), found in detections.items()]
    metrics = pd.DataFrame(rows).sort_values(["model", "test_set"], kind="stable").reset_index(drop=True)
    parts = [_benchmark_tables(metrics[metrics.benchmark == benchmark], conditions, benchmark, clean_value)
             for benchmark in sorted(set(metrics.benchmark))]
    tables = {name: pd.concat([part[name] for part in parts], ignore_index=True)
              for name in ("corruptions", "attacks", "robustness")}
    final = {(row["model"], row["test_set"]): row[PRIMARY] for row in rows}
    return {"metrics": metrics, **tables, "attack_curves": _attack_curves(detections, annotations, conditions, final)}


def _attack_curves(detections: dict, annotations: dict[str, str], conditions: dict[str, dict],
                   final: dict[tuple[str, str], float]) -> pd.DataFrame:
    """mAP after each attack iteration (0: the start; the last: the attacked set's, ``final``)
    of the attacked sets whose detections keep their curve."""
    rows = []
    for (detector, test_set), found in sorted(detections.items()):
        record = conditions[test_set]
        maps = [coco_metrics(step, annotations[test_set])[PRIMARY] for step in found.curve]
        maps += [final[detector, test_set]] if maps else []
        rows += [{"model": detector, "test_set": test_set, "benchmark": record["clean"],
                  "attack": record["condition"], "norm": record["norm"], "iteration": iteration, "map": value}
                 for iteration, value in enumerate(maps)]
    return pd.DataFrame(rows, columns=["model", "test_set", "benchmark", "attack", "norm", "iteration", "map"])


def _benchmark_tables(metrics: pd.DataFrame, conditions: dict[str, dict], clean: str, clean_value
                      ) -> dict[str, pd.DataFrame]:
    """The corruption, attack and robustness tables of the detectors of one clean set."""
    table = metrics.pivot(index="model", columns="test_set", values=PRIMARY)

    def kind(name):
        return {test_set: record for test_set, record in conditions.items()
                if record["kind"] == name and record["clean"] == clean}

    corrupted = {name: {"benchmark": clean, "corruption": record["condition"], "family": record["family"],
                        "severity": record["severity"]} for name, record in kind("corruption").items()}
    attacked = {name: {"benchmark": clean, "attack": record["condition"], "norm": record["norm"]}
                for name, record in kind("attack").items()}
    corruptions = condition_table(table, corrupted, ["benchmark", "corruption", "family", "severity"], clean_value,
                                  "map")
    attacks = condition_table(table, attacked, ["benchmark", "attack", "norm"], clean_value, "map")
    gam_sets = {name: record["condition"] for name, record in kind("corruption").items() if record.get("gam")}
    gams = gam_rows(table, gam_sets, clean, "map") if gam_sets else None
    robustness = rem_table(attacks, gams, "map") if attacked else (gams if gams is not None else pd.DataFrame())
    if len(robustness):
        robustness.insert(1, "benchmark", clean)
    return {"corruptions": corruptions, "attacks": attacks, "robustness": robustness}
