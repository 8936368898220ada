"""The calibrate stage's figures (report category "Calibration"), each returned with the tidy
table of exactly what it draws: RELIS Fig. 2 bottom row (ECE vs mIoU error after temperature
scaling), Figs. 3 / 5 / 6 (ECE per method and calibration set), Figs. 4 / 12 (ECE vs number of
clusters), Fig. 8 (PRR and image-level OOD AUROC after calibration), and Loiseau et al. Fig. 6
(relative ECE improvement, synthetic vs real calibration data)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from segrel.analyse.figures import ece_vs_error_figure, metric_label, shift_order
from segrel.core.figures import panel_grid, style

UNCALIBRATED = "none"


def _finish(figure, axes, title: str) -> None:
    """The last panel's legend outside it, the title, a tight layout."""
    if axes:
        axes[-1].legend(frameon=False, fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    figure.suptitle(title)
    figure.tight_layout()


def with_uncalibrated(calibration: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The calibration table with the plain evaluation's rows of the same test sets added as
    calibration set and method "none"."""
    plain = metrics[metrics.test_set.isin(set(calibration.test_set))]
    plain = plain.assign(calibration_set=UNCALIBRATED, method=UNCALIBRATED)
    return pd.concat([plain[calibration.columns], calibration], ignore_index=True)


def reference_set(calibration: pd.DataFrame, in_domain: str) -> str:
    """The calibration set of RELIS Fig. 2's bottom row: the first one evaluated on the in-domain
    test set (config order is the table's order)."""
    sets = calibration[calibration.test_set == in_domain].calibration_set
    if sets.empty:
        raise ValueError(f"no calibration set is evaluated on the in-domain test set {in_domain!r}: add it to a "
                         "set's test_sets (or leave them empty: every test set)")
    return sets.iloc[0]


def ece_after_calibration_figure(calibration: pd.DataFrame, families: dict, in_domain: str):
    """RELIS Fig. 2, bottom row: ECE against mIoU error after temperature scaling."""
    name = reference_set(calibration, in_domain)
    rows = calibration[(calibration.calibration_set == name) & (calibration.method == "temperature")]
    figure, data = ece_vs_error_figure(rows.drop(columns=["calibration_set", "method"]), families)
    figure.axes[0].set_title(f"After temperature scaling on {name}: {figure.axes[0].get_title()}", fontsize="small")
    return figure, data.assign(calibration_set=name, method="temperature")


def best_per_family(table: pd.DataFrame, families: dict, in_domain: str) -> list[str]:
    """Each family's model of the highest uncalibrated mIoU on the in-domain test set (RELIS
    Figs. 3 and 5 show these)."""
    miou = table[(table.method == UNCALIBRATED) & (table.measure == "miou") & (table.test_set == in_domain)]
    miou = miou.assign(family=miou.model.map(families)).sort_values(["family", "value", "model"])
    return sorted(miou.groupby("family").model.last())


def methods_figure(table: pd.DataFrame, in_domain: str, families: dict):
    """RELIS Figs. 3 / 5 / 6: ECE after each method fitted on each calibration set, mean over the
    best model of each family, one panel per test set (most shifted last); the dashed line is
    the uncalibrated ECE."""
    style()
    models = best_per_family(table, families, in_domain)
    data = table[(table.measure == "ece") & table.model.isin(models)]
    data = data.groupby(["test_set", "calibration_set", "method"], sort=False).value
    data = data.agg(["mean", "count"]).reset_index().rename(columns={"mean": "ece", "count": "models"})
    order = [t for t in shift_order(table[table.method == UNCALIBRATED], in_domain) if t in set(data.test_set)]
    figure, axes = panel_grid(len(order), width=5.2)
    for ax, test_set in zip(axes, order):
        panel = data[(data.test_set == test_set) & (data.method != UNCALIBRATED)]
        sns.barplot(data=panel, x="calibration_set", y="ece", hue="method", ax=ax, legend=ax is axes[-1])
        plain = data[(data.test_set == test_set) & (data.method == UNCALIBRATED)].ece
        if len(plain):
            ax.axhline(float(plain.iloc[0]), color="black", linestyle="--", linewidth=1)
        ax.set(title=test_set, xlabel="calibration set", ylabel="ECE (mean, best model per family)")
        ax.tick_params(axis="x", rotation=45)
    _finish(figure, axes, f"ECE after calibration (dashed: uncalibrated); models: {', '.join(models)}")
    return figure, data.assign(models=" ".join(models))


def clusters_figure(table: pd.DataFrame):
    """RELIS Figs. 4 / 12: ECE against the number of clusters of clustering TS (1 = temperature
    scaling), mean over models, a line per calibration set, a panel per test set."""
    style()
    ece = table[table.measure == "ece"]
    data = ece[ece.method.str.startswith("clustering_k")]
    data = data.assign(clusters=data.method.str.removeprefix("clustering_k").astype(int))
    if not (data.clusters == 1).any():  # one cluster is temperature scaling: its point from there
        sets = set(data.calibration_set)
        data = pd.concat([ece[(ece.method == "temperature") & ece.calibration_set.isin(sets)].assign(clusters=1), data])
    data = data.groupby(["test_set", "calibration_set", "clusters"]).value.mean().reset_index(name="ece")
    test_sets = list(dict.fromkeys(table.test_set))
    test_sets = [t for t in test_sets if t in set(data.test_set)]
    figure, axes = panel_grid(len(test_sets))
    for ax, test_set in zip(axes, test_sets):
        sns.lineplot(data=data[data.test_set == test_set], x="clusters", y="ece", hue="calibration_set", marker="o",
                     ax=ax, legend=ax is axes[-1])
        ax.set(title=test_set, xscale="log", xlabel="clusters", ylabel="ECE (mean over models)")
        ax.set_xticks(sorted(set(data.clusters)), [str(k) for k in sorted(set(data.clusters))])
    _finish(figure, axes, "Clustering TS: ECE vs number of clusters")
    return figure, data


def rejection_and_ood_figure(table: pd.DataFrame):
    """RELIS Fig. 8: PRR and image-level OOD AUROC before and after each calibrator (mean over
    models), a bar per (calibration set, method), a panel per (measure, test set)."""
    style()
    measures = [m for m in ("prr", "image_ood_auroc") if (table.measure == m).any()]
    data = table[table.measure.isin(measures)].assign(
        calibration=lambda d: np.where(d.method == UNCALIBRATED, UNCALIBRATED, d.calibration_set + " / " + d.method))
    data = data.groupby(["measure", "test_set", "calibration"], sort=False).value.mean().reset_index()
    panels = list(dict.fromkeys(zip(data.measure, data.test_set)))
    figure, axes = panel_grid(len(panels), width=5.0, columns=4)
    for ax, (measure, test_set) in zip(axes, panels):
        sns.barplot(data=data[(data.measure == measure) & (data.test_set == test_set)], y="calibration", x="value",
                    ax=ax, color="tab:blue")
        ax.set(title=f"{metric_label(measure)}, {test_set}", xlabel="mean over models", ylabel="")
    figure.suptitle("Failure and OOD detection after calibration")
    figure.tight_layout()
    return figure, data


def synthetic_vs_real_figure(table: pd.DataFrame, pairings: dict, in_domain: str):
    """Loiseau et al. Fig. 6: per model, the relative ECE improvement (ECE_before - ECE_after) /
    ECE_before of temperature scaling fitted on a domain's synthetic set vs on its real
    calibration split, one panel per domain ordered by shift; the share of models each improved
    in the title."""
    from segrel.calibrate.temperature import relative_ece_improvement

    style()
    ece = table[table.measure == "ece"]
    rows = []
    for domain, pairing in pairings.items():
        before = ece[(ece.method == UNCALIBRATED) & (ece.test_set == pairing["test_set"])].set_index("model").value
        for role in ("synthetic", "real"):
            after = ece[(ece.calibration_set == pairing[role]) & (ece.method == "temperature")
                        & (ece.test_set == pairing["test_set"])].set_index("model").value
            rows += [{"domain": domain, "test_set": pairing["test_set"], "data": role, "model": model,
                      "ece_before": before[model], "ece_after": after[model],
                      "relative_improvement": relative_ece_improvement(before[model], after[model])}
                     for model in after.index if model in before.index]
    data = pd.DataFrame(rows)
    shifts = shift_order(table[table.method == UNCALIBRATED], in_domain)
    domains = sorted(pairings, key=lambda d: shifts.index(pairings[d]["test_set"]) if pairings[d]["test_set"] in
                     shifts else len(shifts))
    figure, axes = panel_grid(len(domains), width=5.0, height=4.2)
    for ax, domain in zip(axes, domains):
        panel = data[data.domain == domain]
        sns.barplot(data=panel, x="model", y="relative_improvement", hue="data", hue_order=["synthetic", "real"],
                    ax=ax, legend=ax is axes[-1])
        shares = {role: f"{(panel[panel.data == role].relative_improvement > 0).sum()}/"
                        f"{(panel.data == role).sum()}" for role in ("synthetic", "real")}
        ax.set(title=f"{domain}: improved synthetic {shares['synthetic']}, real {shares['real']}", xlabel="",
               ylabel="relative ECE improvement")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.tick_params(axis="x", rotation=90)
    _finish(figure, axes, "Temperature scaling with synthetic vs real calibration data")
    return figure, data




def temperature_maps_figure(rows: list[dict], title: str):
    """RELIS Fig. 21: per image, the image, the prediction, its errors and local TS' temperature
    map (higher = confidences lowered more). ``rows``: dicts with name, image / prediction
    (H, W, 3 uint8), errors (H, W: 1 wrong, 0 right, NaN void) and temperature (H, W)."""
    from segrel.core.figures import bare

    style()
    columns = ["image", "prediction", "errors", "LTS temperature"]
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(3.4 * len(columns), 1.9 * len(rows) + 0.6),
                                squeeze=False)
    records = []
    for ax_row, row in zip(axes, rows):
        for ax, column in zip(ax_row, columns):
            if column == "errors":
                ax.imshow(row["errors"], cmap="Reds", vmin=0, vmax=1)
            elif column == "LTS temperature":
                shown = ax.imshow(row["temperature"], cmap="viridis")
                figure.colorbar(shown, ax=ax, fraction=0.03)
            else:
                ax.imshow(row[column])
            bare(ax)
        ax_row[0].set_ylabel(row["name"], fontsize="x-small")
        wrong, right = row["errors"] == 1, row["errors"] == 0
        records.append({"image": row["name"], "mean_temperature": float(row["temperature"].mean()),
                        "mean_temperature_errors": float(row["temperature"][wrong].mean()) if wrong.any() else np.nan,
                        "mean_temperature_correct": float(row["temperature"][right].mean()) if right.any() else np.nan})
    for ax, column in zip(axes[0], columns):
        ax.set_title(column)
    figure.suptitle(title)
    figure.tight_layout()
    return figure, pd.DataFrame(records)
