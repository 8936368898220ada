"""Correlation analysis against independent references: numpy's corrcoef, the textbook Fisher-z
interval, pandas' rank correlation, a hand-computed subset mIoU; the analyse stage's config checks."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from segrel.analyse import regression
from segrel.analyse.checks import config_problems
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


def test_regression_band_against_scipys_standard_errors():
    """The band of the mean response, from scipy's slope / intercept standard errors:
    var(a + b x) = se_a^2 + x^2 se_b^2 + 2 x cov(a, b), cov(a, b) = -mean(x) se_b^2."""
    from scipy.stats import linregress, t

    rng = np.random.default_rng(5)
    x = rng.uniform(0.1, 0.6, size=12)
    y = 0.8 * x + rng.normal(scale=0.05, size=12)
    at = np.array([0.0, 0.3, 0.7])
    line, low, high = regression.regression_band(x, y, at, confidence=0.9)
    fit = linregress(x, y)
    spread = np.sqrt(fit.intercept_stderr ** 2 + at ** 2 * fit.stderr ** 2 - 2 * at * x.mean() * fit.stderr ** 2)
    np.testing.assert_allclose(line, fit.intercept + fit.slope * at, rtol=1e-10)
    np.testing.assert_allclose(high - line, t.ppf(0.95, 10) * spread, rtol=1e-8)
    np.testing.assert_allclose(line - low, high - line, rtol=1e-12)
    with pytest.raises(ValueError, match="at least 3 points"):
        regression.regression_band([0, 1], [0, 1], [0.5])


def test_pcc_overview_sorts_by_the_first_proxy_and_draws_the_table():
    from segrel.analyse.figures import pcc_overview_figure

    rows = [("fog", "acdc_fog", "cityscapes_val", 0.5, 0.1, 0.8), ("fog", "acdc_fog", "synthetic_fog", 0.9, 0.7, 0.97),
            ("night", "acdc_night", "cityscapes_val", 0.8, 0.5, 0.93),
            ("night", "acdc_night", "synthetic_night", 0.6, 0.1, 0.85),
            ("anomalies", "smiyc", "idd_val", 0.3, -0.2, 0.7)]
    table = pd.DataFrame(rows, columns=["comparison", "real", "proxy", "pearson_r", "fisher_low", "fisher_high"])
    table["metric"] = ["miou"] * 4 + ["ood_auroc_msp"]
    table["n_models"] = 12
    figure, data = pcc_overview_figure(table, "miou")
    assert data[["rank", "comparison", "proxy_kind"]].values.tolist() == [
        [1, "night", "cityscapes_val"], [1, "night", "synthetic_<domain>"],
        [2, "fog", "cityscapes_val"], [2, "fog", "synthetic_<domain>"]]
    bars = sorted((round(p.get_x() + p.get_width() / 2, 6), round(p.get_height(), 6))
                  for p in figure.axes[0].patches)
    assert [height for _, height in bars] == [0.8, 0.6, 0.5, 0.9]  # night (CS, syn), then fog
    with pytest.raises(ValueError, match="no comparison correlates 'ece'"):
        pcc_overview_figure(table, "ece")


def test_robust_models_figure_ranks_each_familys_best_relative_to_the_reference():
    """Loiseau Fig. 4 by hand: family A's best on cs is a2 (0.7 > 0.6), B has one model; the
    reference family R's model gives the zero; ranked by the real set (night)."""
    from segrel.analyse.figures import robust_models_figure

    values = {("a1", "cs"): 0.6, ("a1", "night"): 0.5, ("a1", "syn"): 0.5,
              ("a2", "cs"): 0.7, ("a2", "night"): 0.2, ("a2", "syn"): 0.3,
              ("b", "cs"): 0.5, ("b", "night"): 0.4, ("b", "syn"): 0.45,
              ("r", "cs"): 0.4, ("r", "night"): 0.3, ("r", "syn"): 0.35}
    metrics = _metrics({(m, t, "miou", ""): v for (m, t), v in values.items()})
    families = {"a1": "A", "a2": "A", "b": "B", "r": "R"}
    figure, data = robust_models_figure(metrics, families, real="night", proxies=["cs", "syn"], in_domain="cs",
                                        reference_family="R")
    table = data.set_index(["model", "test_set"])
    assert data.drop_duplicates("model").model.tolist() == ["b", "r", "a2"]  # night 0.4, 0.3, 0.2
    assert table.loc[("b", "night"), "relative_miou"] == pytest.approx(10.0)
    assert table.loc[("a2", "syn"), "relative_miou"] == pytest.approx(-5.0)
    assert table.loc[("r", "cs"), "relative_miou"] == pytest.approx(0.0)
    assert set(data.test_set) == {"night", "cs", "syn"}
    with pytest.raises(ValueError, match="reference_family to one of A, B, R"):
        robust_models_figure(metrics, families, real="night", proxies=["cs"], in_domain="cs", reference_family="Z")


def test_shift_degradation_is_normalised_by_the_best_in_domain_model():
    from segrel.analyse.figures import shift_degradation_figure

    values = {("a", "cs", "miou"): 0.8, ("a", "cs", "ece"): 0.02, ("a", "fog", "miou"): 0.4, ("a", "fog", "ece"): 0.1,
              ("b", "cs", "miou"): 0.6, ("b", "cs", "ece"): 0.05, ("b", "fog", "miou"): 0.5, ("b", "fog", "ece"): 0.04}
    metrics = _metrics({(m, t, k, ""): v for (m, t, k), v in values.items()})
    _, data = shift_degradation_figure(metrics, "cs", {"a": "A", "b": "B"})
    table = data.set_index(["model", "test_set"])
    assert set(data.reference_model) == {"a"}
    assert table.loc[("a", "cs"), "miou_error_normalised"] == pytest.approx(1.0)
    assert table.loc[("b", "fog"), "miou_error_normalised"] == pytest.approx(0.5 / 0.2)
    assert table.loc[("b", "fog"), "ece_normalised"] == pytest.approx(0.04 / 0.02)


def test_ablation_figures_draw_the_ablations_table():
    from segrel.analyse.figures import confidence_ablation_figure, pixels_ablation_figure

    rows = [(m, t, "calibration_pixels", str(k), "ece", 0.1 / k + 0.01 * (m == "b"))
            for m in "ab" for t in ("cs", "fog") for k in (1000, 20000, 5000)]
    rows += [(m, t, "confidence", c, "prr", 30.0 + 5 * (c == "msp")) for m in "ab" for t in ("fog",)
             for c in ("msp", "negative_entropy")]
    ablations = pd.DataFrame(rows, columns=["model", "test_set", "ablation", "setting", "measure", "value"])
    _, data = pixels_ablation_figure(ablations, "cs")
    assert set(data.test_set) == {"cs"}
    assert data[data.model == "a"].pixels.tolist() == [1000, 5000, 20000]  # numeric order, not text
    _, wide = confidence_ablation_figure(ablations)
    assert wide.set_index("model").loc["a", ["msp", "negative_entropy"]].tolist() == [35.0, 30.0]


def test_rare_domains_figure_scores_each_prediction_against_the_map():
    from segrel.analyse.figures import rare_domains_figure

    label = np.array([[0, 0, 13, 255], [0, 13, 13, 255]])  # road, car, void
    predictions = {"weak": np.zeros((2, 4), int), "strong": np.array([[0, 0, 13, 5], [0, 13, 10, 5]])}
    rows = [{"domain": "flood", "name": "x_000000_000000", "image": np.zeros((2, 4, 3), np.uint8), "label": label,
             "predictions": predictions}]
    figure, data = rare_domains_figure(rows, {"flood": "flood"})
    # 6 labelled pixels: weak right on the 3 road ones, strong on 5 of 6
    assert data.set_index("model").pixel_accuracy.to_dict() == {"weak": 0.5, "strong": pytest.approx(5 / 6)}
    assert [ax.get_title() for ax in figure.axes] == ["label map", "generated", "weak", "strong"]


def test_overlay_puts_every_proxy_in_one_panel_per_metric_with_their_pcc():
    from segrel.analyse.figures import proxies_overlay_figure

    rng = np.random.default_rng(2)
    panels = pd.DataFrame([{"model": f"m{i}", "proxy": proxy, "metric": metric, "proxy_value": rng.random(),
                            "real_value": rng.random()} for metric in ("ood_auroc_entropy", "ood_fpr95_entropy")
                           for proxy in ("all", "curated") for i in range(4)])
    rows = []
    for (proxy, metric), group in panels.groupby(["proxy", "metric"]):
        r = np.corrcoef(group.proxy_value, group.real_value)[0, 1]
        rows.append({"real": "smiyc", "proxy": proxy, "metric": metric, "pearson_r": r, "fisher_low": r - 0.1,
                     "fisher_high": r + 0.1})
    correlations = pd.DataFrame(rows)
    figure, data = proxies_overlay_figure(panels, correlations, "anomalies")
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert len(axes) == 2 and len(data) == len(panels)
    for ax, metric in zip(axes, ["ood_auroc_entropy", "ood_fpr95_entropy"]):
        inset = ax.texts[0].get_text()
        for proxy in ("all", "curated"):
            r = correlations[(correlations.proxy == proxy) & (correlations.metric == metric)].pearson_r.iloc[0]
            assert f"{proxy}: {r:.2f}" in inset
        assert sum(len(c.get_offsets()) for c in ax.collections) == 8  # 4 models x 2 proxies


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
    """A metrics table from {(model, test set, measure, score): value}."""
    return pd.DataFrame([{"model": m, "test_set": t, "measure": k, "score": s, "value": v}
                         for (m, t, k, s), v in values.items()])


def test_correlation_table_pairs_models_by_name():
    values = {}
    for i, model in enumerate(["c", "a", "d", "b"]):  # unsorted on purpose
        values[model, "proxy", "miou", ""] = 0.1 * i
        values[model, "real", "miou", ""] = 0.2 * i ** 2
    values["e", "proxy", "miou", ""] = 0.9  # only on the proxy: left out
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


def test_correlation_table_selects_the_named_score():
    # the same measure under three scores, each with its own values: only the named score's count
    values = {}
    proxy = {"msp": [0.1, 0.2, 0.3, 0.4], "entropy": [0.4, 0.1, 0.3, 0.2], "max_logit": [0.9, 0.5, 0.7, 0.6]}
    real = [0.2, 0.1, 0.5, 0.3]
    for score, xs in proxy.items():
        for model, x, y in zip("abcd", xs, real):
            values[model, "proxy", "ood_auroc", score] = x
            values[model, "real", "ood_auroc", score] = y if score == "entropy" else 1 - y
        values["a", "real", "ood_fpr95", score] = 0.5  # another measure under the same score
    comparisons = {"ood": {"real": "real", "proxies": ["proxy"],
                           "metrics": ["ood_auroc_entropy", "ood_auroc_max_logit"]}}
    table = correlation_table(_metrics(values), comparisons, confidence=0.95, resamples=200, seed=0)
    assert table.metric.tolist() == ["ood_auroc_entropy", "ood_auroc_max_logit"]
    assert table.pearson_r.tolist() == pytest.approx(
        [np.corrcoef(proxy["entropy"], real)[0, 1], np.corrcoef(proxy["max_logit"], 1 - np.array(real))[0, 1]],
        abs=1e-12)
    pairs = paired_values(_metrics(values), "proxy", "real", "ood_auroc_msp")
    assert pairs.proxy.tolist() == proxy["msp"] and pairs.real.tolist() == pytest.approx([0.8, 0.9, 0.5, 0.7])
    with pytest.raises(ValueError, match="unknown metric 'ood_auroc'; known metrics are: images, parameters, miou, "):
        paired_values(_metrics(values), "proxy", "real", "ood_auroc")


def test_config_problems_name_an_unknown_metric():
    config = {"test_sets": {"fog": {}, "cs": {}},
              "analysis": {"comparisons": {
                  "shift": {"real": "fog", "proxies": ["cs"], "metrics": ["miou", "ood_auroc_mps", "ood_fpr95_msp"]}}}}
    (problem,) = config_problems(config)
    assert problem.startswith("config key 'analysis.comparisons.shift.metrics': unknown metric 'ood_auroc_mps'; "
                              "known metrics are: images, parameters, miou, ece, ")
    assert "ood_auroc_msp" in problem and "ood_fpr95_max_logit" in problem
    config["analysis"]["comparisons"]["shift"]["metrics"] = ["ood_mean_entropy", "ood_aupr_negative_max_logit"]
    assert config_problems(config) == []


def test_config_problems_name_rare_domain_clashes_and_unknown_models():
    config = {"models": {"fcn": {}, "segformer": {}}, "generation": {"domains": {"fog": "fog"}},
              "analysis": {"rare_domains": {"domains": {"fog": "thick fog", "flood": "flood"}, "models": ["fnc"]}}}
    assert config_problems(config) == [
        "config key 'analysis.rare_domains.domains': fog also in generation.domains (both are generated under "
        "resources/synthetic/<name>): rename the rare domain",
        "config key 'analysis.rare_domains.models': no model named 'fnc'; models are: fcn, segformer"]
    config["analysis"]["rare_domains"] = {"domains": {"flood": "flood"}, "models": []}
    (problem,) = config_problems(config)
    assert "'analysis.rare_domains.models': empty; name the models to draw" in problem
    config["analysis"]["rare_domains"]["models"] = ["fcn", "segformer"]
    assert config_problems(config) == []


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
    # nothing to plot: refused, not an empty table
    with pytest.raises(ValueError, match=r"^every sample size \(5, 10\) is above the proxy's 3 images; add smaller "
                                         r"ones to analysis.sample_sizes$"):
        pcc_vs_sample_size(confusion, real, sizes=[10, 5], repeats=4, seed=0)
    # and at config time where the count is known (a generated domain's images)
    config = {"test_sets": {"fog": {}, "cs": {}, "synthetic_fog": {}},
              "generation": {"domains": {"fog": "fog"}, "domain_generation": {"images": 20}},
              "analysis": {"sample_sizes": [50, 100], "comparisons": {
                  "fog": {"real": "fog", "proxies": ["cs", "synthetic_fog"], "metrics": ["miou"]}}}}
    assert config_problems(config) == [
        "config key 'analysis.sample_sizes': every size (50, 100) is above the 20 images of each generated domain "
        "(synthetic_fog); add smaller ones, or set sample_size: false in those comparisons"]
    config["analysis"]["comparisons"]["fog"]["sample_size"] = False
    assert config_problems(config) == []
