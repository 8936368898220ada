"""Correlation analysis against independent references: numpy's corrcoef, the textbook Fisher-z
interval, pandas' rank correlation, a hand-computed subset mIoU."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from segrel.analyse.statistics import correlation, correlation_table, paired_values, pcc_vs_sample_size


def test_correlation_against_textbook_formulas():
    rng = np.random.default_rng(0)
    x = rng.normal(size=12)
    y = 0.7 * x + rng.normal(scale=0.5, size=12)
    row = correlation(x, y, resamples=2000)
    r = np.corrcoef(x, y)[0, 1]
    assert row["pearson_r"] == pytest.approx(r, abs=1e-12)
    # Fisher z: tanh(atanh(r) -+ z_0.975 / sqrt(n - 3))
    half = norm.ppf(0.975) / np.sqrt(12 - 3)
    assert row["fisher_low"] == pytest.approx(np.tanh(np.arctanh(r) - half), abs=1e-9)
    assert row["fisher_high"] == pytest.approx(np.tanh(np.arctanh(r) + half), abs=1e-9)
    assert row["spearman_rho"] == pytest.approx(pd.Series(x).corr(pd.Series(y), method="spearman"), abs=1e-12)
    assert row["bootstrap_low"] < r < row["bootstrap_high"]


def test_bootstrap_interval_agrees_with_fisher_on_many_models():
    # bivariate normal, n = 300: both intervals are accurate there and must nearly coincide
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    y = 0.5 * x + rng.normal(scale=np.sqrt(0.75), size=300)
    row = correlation(x, y, resamples=3000, seed=3)
    assert row["bootstrap_low"] == pytest.approx(row["fisher_low"], abs=0.03)
    assert row["bootstrap_high"] == pytest.approx(row["fisher_high"], abs=0.03)


def test_correlation_is_seeded_and_refuses_too_few_models():
    x, y = [0.1, 0.5, 0.3, 0.9, 0.7], [0.2, 0.4, 0.35, 0.8, 0.5]
    assert correlation(x, y, resamples=500, seed=4) == correlation(x, y, resamples=500, seed=4)
    with pytest.raises(ValueError, match="at least 3 models"):
        correlation([0.1, 0.2], [0.3, 0.4])


def _metrics(values: dict) -> pd.DataFrame:
    return pd.DataFrame([{"model": m, "test_set": t, "metric": k, "value": v} for (m, t, k), v in values.items()])


def test_correlation_table_pairs_models_by_name():
    values = {}
    for i, model in enumerate(["c", "a", "d", "b"]):  # unsorted on purpose
        values[model, "proxy", "miou"] = 0.1 * i
        values[model, "real", "miou"] = 0.2 * i ** 2
    values["e", "proxy", "miou"] = 0.9  # only on the proxy: left out
    metrics = _metrics(values)
    pairs = paired_values(metrics, "proxy", "real", "miou")
    assert pairs.model.tolist() == ["a", "b", "c", "d"]
    table = correlation_table(metrics, {"shift": {"real": "real", "proxies": ["proxy"], "metrics": ["miou"]}},
                              confidence=0.95, resamples=200, seed=0)
    expected = np.corrcoef([0.1 * i for i in range(4)], [0.2 * i ** 2 for i in range(4)])[0, 1]
    assert table.pearson_r.item() == pytest.approx(expected, abs=1e-12)
    assert table.n_models.item() == 4
    with pytest.raises(ValueError, match="no 'ece' for test set"):
        paired_values(metrics, "proxy", "real", "ece")


def test_pcc_vs_sample_size_recomputes_dataset_level_miou():
    # 2 classes, 3 images, 3 models. Model m's confusion on image i is hand-made so that the
    # subset mIoU is easy to check for the full set.
    confusion = {}
    for m in range(3):
        images = np.zeros((3, 19, 19), np.int32)
        for i in range(3):
            images[i, 0, 0] = 10 + m  # correct class 0
            images[i, 1, 1] = 10      # correct class 1
            images[i, 0, 1] = 5 - m   # class 0 predicted as 1
        confusion[f"m{m}"] = images
    # full set: class 0 IoU = 3(10+m) / (3(10+m) + 3(5-m)), class 1 IoU = 30 / (30 + 3(5-m))
    full = {f"m{m}": ((10 + m) / 15 + 10 / (15 - m)) / 2 for m in range(3)}
    real = {"m0": 0.2, "m1": 0.5, "m2": 0.55}
    table = pcc_vs_sample_size(confusion, real, sizes=[3, 2, 10], repeats=4, seed=0)
    assert sorted(table["size"].unique()) == [2, 3]  # 10 > 3 images: skipped
    expected = np.corrcoef([full[f"m{m}"] for m in range(3)], [real[f"m{m}"] for m in range(3)])[0, 1]
    np.testing.assert_allclose(table[table["size"] == 3].pearson_r, expected, atol=1e-12)
    with pytest.raises(ValueError, match="different numbers of proxy images"):
        pcc_vs_sample_size({"a": np.zeros((2, 19, 19)), "b": np.zeros((3, 19, 19))}, {"a": 0, "b": 1}, [2], 2, 0)
