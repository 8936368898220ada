"""How well a proxy test set predicts a real shift, across models (Loiseau et al. 2024).

For a real shift (ACDC fog, IDD, ...) and a proxy test set (Cityscapes val: PCC_CS; a
synthetic domain: PCC_syn), each model gives one point (proxy metric, real metric); the
correlation over models says whether the proxy ranks models the way the real shift does.

>>> x = [0.2, 0.4, 0.5, 0.7]; y = [0.1, 0.3, 0.35, 0.6]
>>> row = correlation(x, y, resamples=200)
>>> round(row["pearson_r"], 4), row["n_models"]
(0.9928, 4)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from segrel.evaluate.metrics import miou
from segrel.evaluate.metrics_table import select_metrics

CORRELATION_COLUMNS = ["n_models", "pearson_r", "pearson_p", "fisher_low", "fisher_high", "bootstrap_low",
                       "bootstrap_high", "spearman_rho", "spearman_p"]


def correlation(x, y, *, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Pearson r with its Fisher-z and bootstrap (percentile, models resampled in pairs)
    confidence intervals, and Spearman's rho. Needs at least 3 models."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} proxy values but {len(y)} real values")
    if len(x) < 3:
        raise ValueError(f"a correlation over models needs at least 3 models, got {len(x)}")
    pearson = stats.pearsonr(x, y)
    fisher = pearson.confidence_interval(confidence)  # scipy's default: Fisher z transform
    low, high = bootstrap_interval(x, y, confidence=confidence, resamples=resamples, seed=seed)
    spearman = stats.spearmanr(x, y)
    return {"n_models": len(x), "pearson_r": float(pearson.statistic), "pearson_p": float(pearson.pvalue),
            "fisher_low": float(fisher.low), "fisher_high": float(fisher.high),
            "bootstrap_low": low, "bootstrap_high": high,
            "spearman_rho": float(spearman.statistic), "spearman_p": float(spearman.pvalue)}


def bootstrap_interval(x: np.ndarray, y: np.ndarray, *, confidence: float, resamples: int, seed: int):
    """Percentile interval of Pearson r over models resampled with replacement.

    Hand-written rather than scipy.stats.bootstrap: with the 5-40 models of a zoo, resamples
    that repeat one or two models are common; their r is undefined or exactly +-1, which makes
    scipy's BCa interval NaN and biases a percentile one. Such resamples (fewer than 3
    distinct models) are dropped.
    """
    rng = np.random.default_rng(seed)
    index = rng.integers(0, len(x), size=(resamples, len(x)))
    ordered = np.sort(index, axis=1)
    distinct = 1 + (np.diff(ordered, axis=1) != 0).sum(axis=1)
    xs, ys = x[index[distinct >= 3]], y[index[distinct >= 3]]
    xs, ys = xs - xs.mean(axis=1, keepdims=True), ys - ys.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xs * ys).sum(axis=1) / np.sqrt((xs**2).sum(axis=1) * (ys**2).sum(axis=1))
    r = r[np.isfinite(r)]
    if len(r) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(r, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def paired_values(metrics: pd.DataFrame, proxy: str, real: str, metric: str) -> pd.DataFrame:
    """Models with ``metric`` (a config's metric name) on both test sets of ``metrics`` (a metrics
    table): columns model, proxy, real (sorted by model)."""
    table = select_metrics(metrics, [metric]).pivot(index="model", columns="test_set", values="value")
    missing = [name for name in (proxy, real) if name not in table.columns]
    if missing:
        raise ValueError(f"no {metric!r} for test set(s) {missing} in the metrics table; "
                         f"test sets with it: {sorted(table.columns)}")
    pairs = table[[proxy, real]].dropna().sort_index()
    return pd.DataFrame({"model": pairs.index, "proxy": pairs[proxy].to_numpy(), "real": pairs[real].to_numpy()})


def correlation_table(metrics: pd.DataFrame, comparisons: dict[str, dict], *, confidence: float, resamples: int,
                      seed: int) -> pd.DataFrame:
    """One row per (comparison, proxy, metric).

    ``comparisons``: {name: {"real": test set, "proxies": [test sets], "metrics": [metric names]}}
    (names of :data:`segrel.evaluate.metrics_table.METRIC_NAMES`).
    """
    rows = []
    for name, spec in comparisons.items():
        for proxy in spec["proxies"]:
            for metric in spec["metrics"]:
                pairs = paired_values(metrics, proxy, spec["real"], metric)
                rows.append({"comparison": name, "real": spec["real"], "proxy": proxy, "metric": metric,
                             **correlation(pairs.proxy, pairs.real, confidence=confidence, resamples=resamples,
                                           seed=seed)})
    return pd.DataFrame(rows, columns=["comparison", "real", "proxy", "metric", *CORRELATION_COLUMNS])


def subset_miou(image_confusion: np.ndarray, images: np.ndarray, excluded: Sequence[int] = ()) -> float:
    """Dataset-level mIoU of a subset of images, from their per-image confusion matrices
    (``excluded`` classes left out, as segrel.evaluate.metrics.miou says)."""
    return miou(image_confusion[images].sum(axis=0), excluded)


def pcc_vs_sample_size(image_confusion: dict[str, np.ndarray], real_miou: dict[str, float], sizes, repeats: int,
                       seed: int, excluded: Sequence[int] = ()) -> pd.DataFrame:
    """Pearson r between proxy mIoU on ``size`` random proxy images and the real mIoU
    (the proxy's ``excluded`` classes left out of its mIoU).

    ``image_confusion``: {model: (images, C, C)}, the same images in the same order for every
    model; each repeat draws one subset of images (without replacement) used for all models.
    Rows: size, repeat, pearson_r. Sizes above the number of images are skipped.
    """
    models = sorted(image_confusion)
    counts = {len(image_confusion[m]) for m in models}
    if len(counts) != 1:
        raise ValueError(f"models were evaluated on different numbers of proxy images: {counts}")
    (available,) = counts
    if all(size > available for size in sizes):  # else an empty table and empty axes
        raise ValueError(f"every sample size ({', '.join(map(str, sorted(sizes)))}) is above the proxy's "
                         f"{available} images; add smaller ones to analysis.sample_sizes")
    real = np.array([real_miou[m] for m in models])
    rng = np.random.default_rng(seed)
    rows = []
    for size in sorted(sizes):
        if size > available:
            continue
        for repeat in range(repeats):
            images = rng.choice(available, size=size, replace=False)
            proxy = np.array([subset_miou(image_confusion[m], images, excluded) for m in models])
            r = stats.pearsonr(proxy, real).statistic if np.ptp(proxy) > 0 else np.nan
            rows.append({"size": size, "repeat": repeat, "pearson_r": float(r)})
    return pd.DataFrame(rows, columns=["size", "repeat", "pearson_r"])


def label_map_fidelity(metrics: pd.DataFrame, domains: dict[str, str], reference: str) -> pd.DataFrame:
    """How well the generated images follow their label maps, per model and domain: mIoU on a
    generated domain (against its conditioning maps), mIoU on the reference set (the real images
    of those maps, cut alike) and their ratio, the relative fidelity (1: a segmenter finds the
    map's layout in the generated image as well as in the real one). ``domains``: {domain: test
    set}; ``metrics``: a metrics table.

    >>> metrics = pd.DataFrame({"model": ["a", "a", "a"], "test_set": ["syn_fog", "ref", "syn_fog"],
    ...                         "measure": ["miou", "miou", "ece"], "score": "", "value": [0.3, 0.6, 0.1]})
    >>> label_map_fidelity(metrics, {"fog": "syn_fog"}, "ref").to_dict("records")
    [{'model': 'a', 'domain': 'fog', 'test_set': 'syn_fog', 'miou': 0.3, 'reference_miou': 0.6, \
'relative_fidelity': 0.5}]
    """
    miou = select_metrics(metrics, ["miou"]).set_index(["model", "test_set"]).value
    rows = [{"model": model, "domain": domain, "test_set": test_set, "miou": miou.get((model, test_set), np.nan),
             "reference_miou": miou.get((model, reference), np.nan)}
            for model in sorted(metrics.model.unique()) for domain, test_set in domains.items()]
    table = pd.DataFrame(rows, columns=["model", "domain", "test_set", "miou", "reference_miou"])
    return table.assign(relative_fidelity=table.miou / table.reference_miou)
