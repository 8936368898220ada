"""The calibrate stage's tables: every calibrated state merged (results/tables/calibration.csv,
metrics.csv's columns plus the calibration set and method) and what each fit found
(results/tables/calibration_fits.csv)."""

from __future__ import annotations

from collections import defaultdict

CALIBRATION_COLUMNS = ("model", "calibration_set", "method", "test_set", "measure", "score", "value")
FIT_COLUMNS = ("model", "calibration_set", "method", "quantity", "index", "value")


def merge_calibrated(shards: dict, in_domain: str | None, excluded_classes: dict | None = None):
    """{(model, calibration set, method, test set): [shard files]} -> the tidy calibration table.
    Each (calibration set, method) is merged as the plain evaluation is (image_ood_auroc where
    the calibrator is also evaluated on the in-domain test set)."""
    import pandas as pd

    from segrel.evaluate.evaluation import merge_shard_tables

    groups = defaultdict(dict)
    for (model, name, method, test_set), paths in shards.items():
        groups[name, method][model, test_set] = paths
    tables = []
    for (name, method), group in sorted(groups.items()):
        metrics, _, _ = merge_shard_tables(group, in_domain if any(t == in_domain for _, t in group) else None,
                                           excluded_classes)
        tables.append(metrics.assign(calibration_set=name, method=method))
    if not tables:
        return pd.DataFrame(columns=list(CALIBRATION_COLUMNS))
    return pd.concat(tables, ignore_index=True)[list(CALIBRATION_COLUMNS)]


def fit_table(paths):
    """What each calibrator file's fit found: temperatures (per cluster), cluster sizes, LTS'
    held-out NLL per epoch; one row per number."""
    import pandas as pd
    import torch

    rows = []
    for path in paths:
        saved = torch.load(path, weights_only=False, map_location="cpu")
        name, report = str(path).rsplit("/", 1)[1].removesuffix(".pt"), saved["report"]
        row = {"model": saved["model"], "calibration_set": name}
        rows += [{**row, "method": "temperature", "quantity": key, "index": 0, "value": float(report[key])}
                 for key in ("temperature", "images", "pixels")]
        for method, fitted in report.items():
            if method.startswith("clustering_k"):
                rows += [{**row, "method": method, "quantity": quantity, "index": index, "value": float(value)}
                         for quantity, key in (("temperature", "temperatures"), ("images", "images"))
                         for index, value in enumerate(fitted[key])]
            elif method == "local":
                rows += [{**row, "method": method, "quantity": "held_out_nll", "index": epoch + 1, "value": nll}
                         for epoch, nll in enumerate(fitted["held_out_nll"])]
    return pd.DataFrame(rows, columns=list(FIT_COLUMNS))
