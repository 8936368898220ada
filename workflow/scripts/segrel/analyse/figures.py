"""The analyse stage's figures, from the tidy tables (no model is run here except for the
qualitative maps, whose arrays are passed in).

Each ``*_figure`` function returns ``(figure, data)``: ``data`` is the tidy table of exactly the
numbers drawn, written next to the figure (:func:`segrel.core.figures.write_figure`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from segrel.analyse.regression import regression_band
from segrel.core.figures import bare, panel_grid, style
from segrel.evaluate.metrics_table import metric_key, select_metrics

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
MEASURE_LABELS = {
    "miou": "mIoU", "ece": "ECE", "adaptive_ece": "AdaECE", "ks_error": "KS error", "prr": "PRR (%)",
    "prr_relis": "PRR, RELIS code (%)", "accuracy": "pixel accuracy", "image_confidence": "mean image MSP",
    "image_ood_auroc": "image-level OOD AUROC", "ood_mean_entropy": "mean entropy in OOD regions",
    "ood_auroc": "OOD AUROC", "ood_aupr": "OOD AUPR", "ood_aupr_negative": "OOD AUPR (in-distribution positive)",
    "ood_fpr95": "OOD FPR95",
}


def metric_label(measure: str, score: str = "") -> str:
    """Axis label of a (measure, score) of the metrics table.

    >>> metric_label("ood_auroc", "max_logit"), metric_label("miou")
    ('OOD AUROC (max_logit)', 'mIoU')
    """
    label = MEASURE_LABELS.get(measure, measure)
    return f"{label} ({score})" if score else label


def family_markers(families) -> dict[str, str]:
    """A fixed marker per architecture family (sorted names, so every figure agrees)."""
    return {family: MARKERS[i % len(MARKERS)] for i, family in enumerate(sorted(set(families)))}


def correlation_figure(panels: pd.DataFrame, correlations: pd.DataFrame, families: dict[str, str], title: str):
    """Loiseau et al. Fig. 1/3/8/9: per (proxy, metric) panel, proxy vs real value per model,
    a marker per architecture family, the least-squares line with its 95% confidence band, and
    Pearson r with its CI.

    ``panels``: model, proxy, metric, proxy_value, real_value; ``correlations``: rows of
    :func:`segrel.analyse.statistics.correlation_table` for the same (proxy, metric) pairs.
    """
    style()
    data = panels.assign(family=panels.model.map(families)).sort_values(["proxy", "metric", "model"])
    keys = list(dict.fromkeys(zip(panels.proxy, panels.metric)))  # the config's order
    figure, axes = panel_grid(len(keys))
    markers = family_markers(data.family)
    palette = dict(zip(sorted(markers), sns.color_palette("tab10", len(markers))))
    for ax, (proxy, metric) in zip(axes, keys):
        panel = data[(data.proxy == proxy) & (data.metric == metric)]
        for family, group in panel.groupby("family"):
            ax.scatter(group.proxy_value, group.real_value, marker=markers[family], color=palette[family], s=60,
                       label=family, edgecolor="black", linewidth=0.5)
        if panel.proxy_value.nunique() > 1 and len(panel) >= 3:
            xs = np.linspace(panel.proxy_value.min(), panel.proxy_value.max(), 50)
            line, low, high = regression_band(panel.proxy_value, panel.real_value, xs)
            ax.fill_between(xs, low, high, color="0.3", alpha=0.15, linewidth=0)
            ax.plot(xs, line, color="0.3", linestyle="--", linewidth=1)
        row = correlations[(correlations.proxy == proxy) & (correlations.metric == metric)].iloc[0]
        ax.set_title(f"{proxy}: PCC = {_pcc(row)}")
        label = metric_label(*metric_key(metric))
        ax.set_xlabel(f"{label} on {proxy}")
        ax.set_ylabel(f"{label} on {row.real}")
    _legend_and_title(figure, axes[0], "family", title)
    return figure, data[["model", "family", "proxy", "metric", "proxy_value", "real_value"]]


def _pcc(row) -> str:
    """A correlations row's Pearson r with its Fisher interval."""
    return f"{row.pearson_r:.2f} [{row.fisher_low:.2f}, {row.fisher_high:.2f}]"


def _legend_and_title(figure, ax, legend_title: str, title: str) -> None:
    """One legend (of ``ax``'s entries) to the right of the panels, and the figure's title."""
    handles, labels = ax.get_legend_handles_labels()
    figure.legend(handles, labels, title=legend_title, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    figure.suptitle(title)
    figure.tight_layout()


def proxies_overlay_figure(panels: pd.DataFrame, correlations: pd.DataFrame, title: str):
    """Loiseau et al. Figs. 8/9: one panel per metric (4 per row: FPR95, AUROC, AUPR-in,
    AUPR-out of a score), every proxy's models in one colour with its least-squares line, and an
    inset of each proxy's PCC [Fisher interval] (e.g. the curated inpainted set against all of
    it). ``panels`` and ``correlations`` as in :func:`correlation_figure`."""
    style()
    data = panels.sort_values(["metric", "proxy", "model"])
    metrics = list(dict.fromkeys(panels.metric))
    proxies = list(dict.fromkeys(panels.proxy))
    colours = dict(zip(proxies, sns.color_palette("tab10", len(proxies))))
    figure, axes = panel_grid(len(metrics), width=3.8, height=3.6, columns=4)
    for ax, metric in zip(axes, metrics):
        inset = []
        for proxy in proxies:
            points = data[(data.metric == metric) & (data.proxy == proxy)]
            ax.scatter(points.proxy_value, points.real_value, color=colours[proxy], s=30, label=proxy,
                       edgecolor="black", linewidth=0.4)
            if points.proxy_value.nunique() > 1:
                slope, intercept = np.polyfit(points.proxy_value, points.real_value, 1)
                xs = np.linspace(points.proxy_value.min(), points.proxy_value.max(), 20)
                ax.plot(xs, slope * xs + intercept, color=colours[proxy], linewidth=1)
            row = correlations[(correlations.proxy == proxy) & (correlations.metric == metric)].iloc[0]
            inset.append(f"{proxy}: {_pcc(row)}")
        ax.text(0.03, 0.97, "PCC\n" + "\n".join(inset), transform=ax.transAxes, va="top", fontsize="x-small",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.7"})
        label = metric_label(*metric_key(metric))
        ax.set_xlabel(f"{label} on the proxy")
        ax.set_ylabel(f"{label} on {correlations.real.iloc[0]}")
    _legend_and_title(figure, axes[0], "proxy", title)
    return figure, data[["model", "proxy", "metric", "proxy_value", "real_value"]]


def pcc_overview_figure(correlations: pd.DataFrame, metric: str):
    """Loiseau et al. Fig. 3 (top): a group of bars per comparison, one bar per proxy (its PCC
    with the Fisher interval), comparisons sorted by the PCC of their first proxy. A proxy is
    named with the comparison's name replaced by <domain> (synthetic_fog -> synthetic_<domain>),
    so the same kind of proxy has one colour across comparisons."""
    style()
    data = correlations[correlations.metric == metric].copy()
    if data.empty:
        raise ValueError(f"no comparison correlates {metric!r}: add it to a comparison's metrics or set "
                         "analysis.pcc_overview.metric to one they use")
    data["proxy_kind"] = [proxy.replace(name, "<domain>") for proxy, name in zip(data.proxy, data.comparison)]
    first = data.groupby("comparison", sort=False).pearson_r.first()
    order = list(first.sort_values(ascending=False).index)
    data["rank"] = data.comparison.map({name: i + 1 for i, name in enumerate(order)})
    data = data.sort_values(["rank"], kind="stable")
    kinds = list(dict.fromkeys(data.proxy_kind))
    figure, ax = plt.subplots(figsize=(1.2 * len(order) * max(1, len(kinds) / 2) + 2, 3.5))
    width = 0.8 / len(kinds)
    for k, (kind, colour) in enumerate(zip(kinds, sns.color_palette("tab10", len(kinds)))):
        rows = data[data.proxy_kind == kind]
        positions = rows["rank"].to_numpy() - 1 + (k - (len(kinds) - 1) / 2) * width
        errors = [rows.pearson_r - rows.fisher_low, rows.fisher_high - rows.pearson_r]
        ax.bar(positions, rows.pearson_r, width, yerr=errors, color=colour, label=kind, capsize=3,
               edgecolor="black", linewidth=0.5)
    ax.set_xticks(range(len(order)), [f"{name}\n({data[data.comparison == name].real.iloc[0]})" for name in order])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(min(-0.1, float(data.fisher_low.min()) - 0.05), 1.05)
    ax.set_ylabel(f"PCC, {metric_label(*metric_key(metric))}")
    ax.legend(title="proxy", frameon=False, loc="lower left")
    ax.set_title(f"how well each proxy predicts the real shift ({metric}; sorted by the first proxy)")
    figure.tight_layout()
    return figure, data[["rank", "comparison", "real", "proxy", "proxy_kind", "n_models", "pearson_r", "fisher_low",
                         "fisher_high"]]


def robust_models_figure(metrics: pd.DataFrame, families: dict[str, str], *, real: str, proxies: list[str],
                         in_domain: str, reference_family: str):
    """Loiseau et al. Fig. 4: per architecture family its best model on ``in_domain`` (e.g.
    Cityscapes val), ranked by mIoU on the ``real`` shift, as mIoU relative to the reference
    family's model (points of mIoU above it) on the real set and on each proxy: a good proxy
    keeps the order and the gaps."""
    style()
    sets = list(dict.fromkeys([real, *proxies, in_domain]))
    table = metrics[(metrics.measure == "miou") & metrics.test_set.isin(sets)]
    table = table.pivot(index="model", columns="test_set", values="value").dropna()
    table["family"] = table.index.map(families)
    best = table.loc[table.groupby("family")[in_domain].idxmax()]
    if reference_family not in set(best.family):
        raise ValueError(f"no model of family {reference_family!r} has results on {', '.join(sets)}: set "
                         f"analysis.robust_models.reference_family to one of {', '.join(sorted(set(best.family)))}")
    reference = best[best.family == reference_family].iloc[0]
    order = best.sort_values(real, ascending=False)
    shown = [real, *[proxy for proxy in proxies if proxy != real]]
    data = order.reset_index().melt(id_vars=["model", "family"], value_vars=shown, var_name="test_set",
                                    value_name="miou")
    data["relative_miou"] = 100 * (data.miou - data.test_set.map(reference[shown]))
    data["rank_on_real"] = data.model.map({model: i + 1 for i, model in enumerate(order.index)})
    data["reference_model"] = reference.name
    labels = [f"{family} ({model})" for model, family in zip(order.index, order.family)]
    figure, ax = plt.subplots(figsize=(7, 0.45 * len(order) * max(1, len(shown) / 2) + 1.5))
    sns.barplot(data=data, y="model", x="relative_miou", hue="test_set", hue_order=shown, order=list(order.index),
                ax=ax)
    ax.set_yticks(range(len(order)), labels)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"mIoU relative to {reference_family} ({reference.name}), points")
    ax.set_ylabel("")
    ax.set_title(f"best model per family on {in_domain}, ranked by {real}")
    figure.tight_layout()
    return figure, data


def sample_size_figure(table: pd.DataFrame):
    """Loiseau et al. Fig. 5: PCC (mean +- std over random image subsets) against the number of
    proxy images, one line per (comparison, proxy)."""
    style()
    summary = (table.groupby(["comparison", "proxy", "size"]).pearson_r.agg(["mean", "std", "count"])
               .reset_index().rename(columns={"mean": "pearson_r_mean", "std": "pearson_r_std", "count": "repeats"}))
    figure, ax = plt.subplots(figsize=(6.5, 4.2))
    for (comparison, proxy), group in summary.groupby(["comparison", "proxy"]):
        line, = ax.plot(group["size"], group.pearson_r_mean, marker="o", label=f"{comparison} ({proxy})")
        ax.fill_between(group["size"], group.pearson_r_mean - group.pearson_r_std,
                        group.pearson_r_mean + group.pearson_r_std, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    sizes = sorted(summary["size"].unique())
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.minorticks_off()
    ax.set_xlabel("proxy images")
    ax.set_ylabel("PCC with the real shift (mean ± std)")
    ax.set_ylim(-1.05, 1.05)
    ax.legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure, summary


def _measures_wide(metrics: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """One row per (model, test set), a column per measure (scoreless measures of the table)."""
    data = metrics[metrics.measure.isin(measures)]
    return data.pivot_table(index=["model", "test_set"], columns="measure", values="value").reset_index()


def shift_order(metrics: pd.DataFrame, in_domain: str) -> list[str]:
    """Segmentation test sets from the in-domain one to the hardest (by mean mIoU over models)."""
    miou = metrics[metrics.measure == "miou"].groupby("test_set").value.mean()
    rest = miou.drop(in_domain, errors="ignore").sort_values(ascending=False)
    return ([in_domain] if in_domain in miou.index else []) + list(rest.index)


def shift_degradation_figure(metrics: pd.DataFrame, in_domain: str, families: dict[str, str]):
    """RELIS Fig. 1: mIoU error (1 - mIoU) and ECE of every model as the shift grows (test sets
    ordered by mean mIoU over models), each normalised by the best in-domain model's own
    in-domain value (that model's first point is 1). Calibration degrades along with accuracy."""
    style()
    order = shift_order(metrics, in_domain)
    data = _measures_wide(metrics[metrics.test_set.isin(order)], ["miou", "ece"])
    data["miou_error"] = 1.0 - data.miou
    home = data[data.test_set == in_domain].set_index("model")
    if home.empty:
        raise ValueError(f"no model has results on the in-domain test set {in_domain!r}: the errors are normalised "
                         "by the best model there")
    best = home.miou.idxmax()
    for column in ("miou_error", "ece"):
        data[f"{column}_normalised"] = data[column] / home.loc[best, column]
    data["family"] = data.model.map(families)
    data["shift_rank"] = data.test_set.map({name: i for i, name in enumerate(order)})
    data["reference_model"] = best
    data = data.sort_values(["model", "shift_rank"])
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    markers = family_markers(data.family)
    panels = [("miou_error_normalised", "mIoU error (1 - mIoU)"), ("ece_normalised", "ECE")]
    for ax, (column, label) in zip(axes, panels):
        for model, group in data.groupby("model"):
            ax.plot(group.shift_rank, group[column], marker=markers[families[model]], label=model)
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right")
        ax.set_ylabel(f"{label} / {best}'s on {in_domain}")
        ax.set_xlabel("test set (increasing shift)")
    axes[1].legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure, data[["model", "family", "test_set", "shift_rank", "miou", "miou_error", "ece",
                         "miou_error_normalised", "ece_normalised", "reference_model"]]


def ece_vs_error_figure(metrics: pd.DataFrame, families: dict[str, str]):
    """RELIS Fig. 2: ECE against mIoU error, every (model, test set); colour = test set,
    marker = family, marker area = the model's parameter count. Pearson r over all points in
    the title."""
    from scipy.stats import pearsonr

    style()
    data = _measures_wide(metrics, ["miou", "ece"]).dropna()
    parameters = metrics[metrics.measure == "parameters"].groupby("model").value.first()
    data["parameters_millions"] = data.model.map(parameters / 1e6)
    data["miou_error"] = 1.0 - data.miou
    data["family"] = data.model.map(families)
    data = data.sort_values(["test_set", "model"])
    figure, ax = plt.subplots(figsize=(6.5, 4.8))
    markers = family_markers(data.family)
    sns.scatterplot(data=data, x="miou_error", y="ece", hue="test_set", style="family", markers=markers,
                    size="parameters_millions", sizes=(30, 300), ax=ax)
    r = pearsonr(data.miou_error, data.ece).statistic if len(data) > 2 else np.nan
    ax.set_title(f"ECE vs mIoU error (Pearson r = {r:.2f}); size: parameters (M)")
    ax.set_xlabel("mIoU error (1 - mIoU)")
    ax.set_ylabel("ECE")
    ax.legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure, data[["model", "family", "test_set", "parameters_millions", "miou", "miou_error", "ece"]]


def _heatmap(ax, data: pd.DataFrame, value: str, title: str, columns: str = "test_set", fmt: str = ".2f", **kwargs):
    heatmap(ax, data.pivot(index="model", columns=columns, values=value), title, fmt=fmt, **kwargs)


def heatmap(ax, table: pd.DataFrame, title: str, fmt: str = ".2f", rotation: int = 45, **kwargs):
    """A model x column table as an annotated heatmap (the style of every segrel heatmap)."""
    sns.heatmap(table, annot=True, fmt=fmt, cmap="viridis", ax=ax, cbar=False, **kwargs)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=rotation)


def ood_detection_figure(metrics: pd.DataFrame):
    """RELIS OOD detection: image-level AUROC (in-domain images vs each shifted set, mean MSP
    as the score) and pixel-level AUROC / FPR95 on every set with OOD pixels, per score."""
    style()
    pixel_measures = ["ood_auroc", "ood_fpr95"]
    data = pd.concat([metrics[metrics.measure == "image_ood_auroc"], metrics[metrics.measure.isin(pixel_measures)]],
                     ignore_index=True)
    data["column"] = np.where(data.score == "", data.test_set, data.test_set + " / " + data.score)
    panels = [(data.measure == "image_ood_auroc", "image-level OOD AUROC (mean MSP)")]
    panels += [(data.measure == measure, f"pixel-level {metric_label(measure)}") for measure in pixel_measures]
    panels = [(mask, title) for mask, title in panels if mask.any()]
    if not panels:
        raise ValueError("no OOD metric in the metrics table: configure an anomaly set or an in-domain test set")
    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 0.45 * data.model.nunique() + 3),
                                squeeze=False)
    for ax, (mask, title) in zip(axes[0], panels):
        _heatmap(ax, data[mask], "value", title, columns="column", vmin=0, vmax=1)
    figure.tight_layout()
    return figure, data[["model", "test_set", "measure", "score", "value"]]


def ood_vs_miou_figure(metrics: pd.DataFrame, families: dict[str, str]):
    """RELIS Fig. 7: image-level OOD AUROC (in-domain images against each shifted set's, mean
    MSP as the score) against the model's mIoU on that shifted set; a marker per family."""
    style()
    data = _measures_wide(metrics, ["image_ood_auroc", "miou"])
    if "image_ood_auroc" not in data:
        raise ValueError("no image-level OOD AUROC in the metrics table: it needs an in-domain test set "
                         "(evaluation.in_domain) and shifted ones")
    data = data.dropna(subset=["image_ood_auroc", "miou"]).sort_values(["test_set", "model"])
    data["family"] = data.model.map(families)
    figure, ax = plt.subplots(figsize=(6.5, 4.8))
    sns.scatterplot(data=data, x="miou", y="image_ood_auroc", hue="test_set", style="family",
                    markers=family_markers(data.family), s=70, ax=ax)
    ax.set_xlabel("mIoU on the shifted set")
    ax.set_ylabel("image-level OOD AUROC (mean MSP)")
    ax.legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.tight_layout()
    return figure, data[["model", "family", "test_set", "miou", "image_ood_auroc"]]


def misclassification_figure(metrics: pd.DataFrame):
    """RELIS misclassification detection: PRR (%) per model and test set, and PRR against
    mIoU (does a better segmenter also know better where it fails?)."""
    style()
    data = _measures_wide(metrics, ["prr", "miou"]).dropna()
    figure, axes = plt.subplots(1, 2, figsize=(12, 0.45 * data.model.nunique() + 3))
    _heatmap(axes[0], data, "prr", "PRR (%) of MSP", fmt=".1f")
    sns.scatterplot(data=data.sort_values(["test_set", "model"]), x="miou", y="prr", hue="test_set", s=60, ax=axes[1])
    axes[1].set_xlabel("mIoU")
    axes[1].set_ylabel("PRR (%)")
    axes[1].legend(frameon=False, fontsize="small")
    figure.tight_layout()
    return figure, data[["model", "test_set", "miou", "prr"]]


def pixels_ablation_figure(ablations: pd.DataFrame, test_set: str):
    """RELIS Fig. 10: ECE, AdaECE, KS and PRR of each model on ``test_set`` against the
    number of pixels drawn per image for them (evaluation.ablations.calibration_pixels)."""
    style()
    data = ablations[(ablations.ablation == "calibration_pixels") & (ablations.test_set == test_set)]
    data = data.assign(pixels=data.setting.astype(int)).sort_values(["model", "pixels"])
    measures = list(dict.fromkeys(data.measure))
    figure, axes = panel_grid(len(measures), columns=4)
    for ax, measure in zip(axes, measures):
        sns.lineplot(data=data[data.measure == measure], x="pixels", y="value", hue="model", marker="o", ax=ax,
                     legend=ax is axes[-1])
        ax.set(xscale="log", xlabel="pixels per image", ylabel=metric_label(measure), title=metric_label(measure))
    if len(axes):
        axes[-1].legend(frameon=False, fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    figure.suptitle(f"Calibration metrics vs pixels sampled per image ({test_set})")
    figure.tight_layout()
    return figure, data[["model", "test_set", "pixels", "measure", "value"]]


def confidence_ablation_figure(ablations: pd.DataFrame):
    """RELIS Fig. 11: PRR and image-level OOD AUROC with the negative entropy as the confidence
    against the same with the MSP, one point per (model, test set), the diagonal for equality."""
    style()
    data = ablations[ablations.ablation == "confidence"]
    wide = data.pivot_table(index=["model", "test_set", "measure"], columns="setting", values="value").reset_index()
    measures = list(dict.fromkeys(data.measure))
    test_sets = sorted(set(wide.test_set))  # one colour per test set in every panel
    figure, axes = panel_grid(len(measures), width=4.6)
    for ax, measure in zip(axes, measures):
        panel = wide[wide.measure == measure]
        sns.scatterplot(data=panel, x="msp", y="negative_entropy", hue="test_set", hue_order=test_sets, s=50, ax=ax)
        values = panel[["msp", "negative_entropy"]].to_numpy()
        limits = [np.nanmin(values), np.nanmax(values)]
        ax.plot(limits, limits, color="grey", linestyle="--", linewidth=1)
        ax.set(xlabel=f"{metric_label(measure)}, MSP", ylabel=f"{metric_label(measure)}, negative entropy")
        ax.legend(frameon=False, fontsize="small")
    figure.suptitle("MSP vs negative entropy as the confidence")
    figure.tight_layout()
    return figure, wide


def confidence_map_row(test_set: str, name: str, image: np.ndarray, label: np.ndarray, prediction: np.ndarray,
                       confidence: np.ndarray, kind: str = "segmentation") -> dict:
    """One row of :func:`confidence_maps_figure`: ``label`` train ids (or, ``kind`` "anomaly",
    the anomaly mask: white anomalies, grey void, marked = the anomalies), ``prediction`` train
    ids, ``confidence`` the MSP map; marked = the errors (void unmarked)."""
    from segrel.core import labels as lb

    if kind == "anomaly":
        ground_truth = np.select([label == lb.ANOMALY_YES, label == lb.ANOMALY_VOID], [255, 128], 0)
        ground_truth = np.repeat(ground_truth[..., None], 3, axis=2).astype(np.uint8)
        marked = np.where(label == lb.ANOMALY_VOID, np.nan, (label == lb.ANOMALY_YES).astype(float))
    else:
        ground_truth = lb.TRAINID_COLORS[label]
        marked = np.where(label == lb.VOID, np.nan, (prediction != label).astype(float))
    return {"test_set": test_set, "name": name, "image": image, "ground_truth": ground_truth,
            "prediction": lb.TRAINID_COLORS[prediction], "confidence": confidence, "marked": marked}


def confidence_maps_figure(rows: list[dict]):
    """Loiseau et al. Fig. 10 style: per image, the image, ground truth, prediction, confidence
    (MSP) and marked pixels (errors; on anomaly sets the anomalies). ``rows``: dicts with
    test_set, name, image / ground_truth / prediction (H, W, 3 uint8), confidence (H, W) and
    marked (H, W float: 1 marked, 0 not, NaN void)."""
    style()
    columns = ["image", "ground truth", "prediction", "confidence (MSP)", "errors / anomalies"]
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(3.2 * len(columns), 1.9 * len(rows) + 0.6),
                                squeeze=False)
    records = []
    for ax_row, row in zip(axes, rows):
        panels = [row["image"], row["ground_truth"], row["prediction"], row["confidence"], row["marked"]]
        for ax, column, panel in zip(ax_row, columns, panels):
            if column.startswith("confidence"):
                ax.imshow(panel, cmap="magma", vmin=0, vmax=1)
            elif column.startswith("errors"):
                ax.imshow(panel, cmap="Reds", vmin=0, vmax=1)
            else:
                ax.imshow(panel)
            bare(ax)
        ax_row[0].set_ylabel(row["test_set"], fontsize="small")
        marked = row["marked"] == 1
        records.append({"test_set": row["test_set"], "image": row["name"],
                        "marked_fraction": float(np.nanmean(row["marked"])),
                        "mean_confidence": float(row["confidence"].mean()),
                        "mean_confidence_marked": float(row["confidence"][marked].mean()) if marked.any() else np.nan,
                        "mean_confidence_unmarked": float(row["confidence"][row["marked"] == 0].mean())
                        if (row["marked"] == 0).any() else np.nan})
    for ax, column in zip(axes[0], columns):
        ax.set_title(column)
    figure.tight_layout()
    return figure, pd.DataFrame(records)


def rare_domains_figure(rows: list[dict], texts: dict[str, str]):
    """Loiseau et al. Fig. 7: per image generated in a rare domain (``texts``: domain -> its
    prompt text), its label map, the image and each model's prediction. ``rows``: dicts with
    domain, name, image (H, W, 3 uint8), label (H, W train ids) and predictions ({model: (H, W)
    train ids}). The table has each prediction's pixel accuracy against the label map."""
    from segrel.core import labels as lb

    style()
    models = list(rows[0]["predictions"]) if rows else []
    columns = ["label map", "generated", *models]
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(2.6 * len(columns), 2.6 * len(rows) + 0.6),
                                squeeze=False)
    records = []
    for ax_row, row in zip(axes, rows):
        panels = [lb.TRAINID_COLORS[row["label"]], row["image"]]
        panels += [lb.TRAINID_COLORS[prediction] for prediction in row["predictions"].values()]
        for ax, panel in zip(ax_row, panels):
            ax.imshow(panel)
            bare(ax)
        text = texts[row["domain"]]
        ax_row[0].set_ylabel(row["domain"] if text == row["domain"] else f"{row['domain']}\n({text})", fontsize="small")
        labelled = row["label"] != lb.VOID
        records += [{"domain": row["domain"], "image": row["name"], "model": model,
                     "pixel_accuracy": float((prediction == row["label"])[labelled].mean())}
                    for model, prediction in row["predictions"].items()]
    for ax, column in zip(axes[0], columns):
        ax.set_title(column)
    figure.tight_layout()
    return figure, pd.DataFrame(records, columns=["domain", "image", "model", "pixel_accuracy"])


# ---- OOD-object inpainting


def inpainting_control_figure(metrics: pd.DataFrame, test_sets: dict[str, str], names: list[str]):
    """Loiseau et al. Fig. 11: per model, pixel-level OOD detection on the inpainted OOD objects
    and on the in-domain control object inpainted the same way (``test_sets``: label -> test
    set, the control last), one panel per metric (``names``: metric names). Scores well above
    the control's come from the objects, not from the inpainting."""
    style()
    labels = {name: label for label, name in test_sets.items()}
    data = select_metrics(metrics[metrics.test_set.isin(labels)], names)
    if data.empty:
        raise ValueError(f"no {', '.join(names)} of {', '.join(test_sets.values())} in the metrics table: "
                         "enable generation.anomalies and evaluate the models on its test sets")
    data["set"] = data.test_set.map(labels)
    data = data.sort_values(["metric", "model", "test_set"])[["model", "set", "test_set", "metric", "value"]]
    shown = [m for m in names if m in set(data.metric)]
    models = sorted(data.model.unique())
    figure, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 0.45 * len(models) + 2), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        sns.barplot(data=data[data.metric == metric], y="model", x="value", hue="set",
                    hue_order=[label for label in test_sets if label in set(data.set)], order=models, ax=ax)
        ax.set_xlabel(metric_label(*metric_key(metric)))
        ax.set_ylabel("")
        ax.set_xlim(0, 1)
        if ax is not axes[0][-1]:
            ax.get_legend().remove()
    axes[0][-1].legend(frameon=False, fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    figure.suptitle("OOD detection: inpainted OOD objects vs the in-domain control")
    figure.tight_layout()
    return figure, data


def realism_pcc_figure(realism: pd.DataFrame, correlations: pd.DataFrame, metric: str):
    """Does a closer distribution give a better proxy? Per generated proxy, its FID and KID to
    its real target (rule realism's "real counterpart" rows) against its PCC with that target
    on ``metric`` (with the Fisher interval), one point per comparison; the title gives
    Spearman's rho over the points (n >= 3).

    ``realism``: rows of rule realism (test_set, against, role, fid, kid, kid_std, features);
    ``correlations``: rows of :func:`segrel.analyse.statistics.correlation_table`.
    """
    from scipy.stats import spearmanr

    style()
    counterparts = realism[realism.role == "real counterpart"].rename(columns={"test_set": "proxy", "against": "real"})
    data = counterparts.merge(correlations[correlations.metric == metric], on=["proxy", "real"])
    if data.empty:
        raise ValueError(f"no generated proxy of analysis.comparisons has both FID and a PCC on {metric!r}: add "
                         "it to the comparisons' metrics or set analysis.pcc_overview.metric to one they use")
    data = data.sort_values(["comparison", "proxy"])
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True)
    for ax, (column, label) in zip(axes, [("fid", "FID"), ("kid", "KID")]):
        errors = [data.pearson_r - data.fisher_low, data.fisher_high - data.pearson_r]
        ax.errorbar(data[column], data.pearson_r, yerr=errors, fmt="o", color="C0", capsize=3, markeredgecolor="black")
        for x, y, name in zip(data[column], data.pearson_r, data.comparison):
            ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize="small")
        rho = spearmanr(data[column], data.pearson_r).statistic if len(data) >= 3 else float("nan")
        ax.set_title(f"Spearman rho = {rho:.2f} (n = {len(data)})")
        ax.set_xlabel(f"{label} of the proxy to the real shift")
    axes[0].set_ylabel(f"PCC, {metric_label(*metric_key(metric))}")
    figure.suptitle(f"closer to the real images, a better proxy? ({data.features.iloc[0]})", fontsize="small")
    figure.tight_layout()
    return figure, data[["comparison", "proxy", "real", "metric", "fid", "kid", "kid_std", "n_models", "pearson_r",
                         "fisher_low", "fisher_high"]]
