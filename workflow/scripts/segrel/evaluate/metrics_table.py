"""The metrics table, results/tables/metrics.csv: its columns, its measures and anomaly scores,
and the registry of the metric names a config writes (``analysis.comparisons.<name>.metrics``).

A row is one (model, test set, measure, score): ``score`` names the anomaly score of the
pixel-level OOD detection measures and is empty for every other measure. A metric name is
built from (measure, score) here, once; nothing parses a name back.

>>> METRIC_NAMES["ood_auroc_max_logit"], METRIC_NAMES["miou"]
(('ood_auroc', 'max_logit'), ('miou', ''))
"""

from __future__ import annotations

COLUMNS = ("model", "test_set", "measure", "score", "value")

#: Anomaly scores (higher = more anomalous; :func:`segrel.evaluate.evaluation.pixel_scores`).
SCORES = ("msp", "entropy", "max_logit", "rba")

#: Pixel-level OOD detection measures, reported once per score (AUPR: the OOD pixels positive;
#: AUPR negative: the in-distribution pixels positive; FPR at 95% TPR).
DETECTION_MEASURES = ("ood_auroc", "ood_aupr", "ood_aupr_negative", "ood_fpr95")

#: Every measure of the table. A test set's rows come in this order, except that the detection
#: measures come score by score (all of msp, then entropy, max_logit, rba); ``image_ood_auroc``,
#: which compares two test sets, comes after all of them.
MEASURES = ("images", "parameters", "miou", "ece", "adaptive_ece", "ks_error", "prr", "accuracy", "pixels", "prr_relis",
            "image_confidence", *DETECTION_MEASURES, "ood_mean_entropy", "image_ood_auroc")


def metric_name(measure: str, score: str = "") -> str:
    """The config's name of a (measure, score): the measure, with the score appended if any.

    >>> metric_name("ood_fpr95", "entropy"), metric_name("ece")
    ('ood_fpr95_entropy', 'ece')
    """
    return f"{measure}_{score}" if score else measure


#: {metric name: (measure, score)} of every metric the table can hold.
METRIC_NAMES: dict[str, tuple[str, str]] = {
    metric_name(measure, score): (measure, score)
    for measure in MEASURES
    for score in (SCORES if measure in DETECTION_MEASURES else ("",))
}


def unknown_metric(name: str) -> str:
    """What is wrong with a metric name that is not in the registry."""
    return f"unknown metric {name!r}; known metrics are: {', '.join(METRIC_NAMES)}"


def metric_key(name: str) -> tuple[str, str]:
    """(measure, score) of a metric name; a ValueError listing the known names if it has none.

    >>> metric_key("ood_aupr_negative_msp")
    ('ood_aupr_negative', 'msp')
    """
    if name not in METRIC_NAMES:
        raise ValueError(unknown_metric(name))
    return METRIC_NAMES[name]


def read_metrics(path):
    """The metrics table from ``path``; an empty score reads back as "" (not NaN), as written."""
    import pandas as pd

    table = pd.read_csv(path)
    return table.assign(score=table.score.fillna("").astype(str))


def select_metrics(metrics, names):
    """The rows of ``metrics`` (a metrics table) for the metric names ``names``, in the table's
    order, with each row's name in an added ``metric`` column."""
    import pandas as pd

    keys = pd.DataFrame([(name, *metric_key(name)) for name in names], columns=["metric", "measure", "score"])
    return metrics.merge(keys, on=["measure", "score"], how="inner")
