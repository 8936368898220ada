"""The stress stage's figures: mIoU per corruption and per attack per model (SemSegBench style),
severity curves, mIoU against attack iterations, GAM against clean mIoU, ReM against GAM and
clean mIoU, C(i) / C'(i) with S_robust (XImageNet-12), and the proxy study (Loiseau Table 1
extended). Each returns (figure, the tidy table drawn) for
:func:`segrel.core.figures.write_figure`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from segrel.analyse.figures import family_markers, heatmap
from segrel.core.figures import panel_grid, style

#: how a figure labels each measure its tables hold (segmenters: mIoU, detectors: COCO mAP)
LABELS = {"miou": "mIoU", "map": "mAP"}


def corruption_heatmap(corruptions: pd.DataFrame, severity: int | None, measure: str = "miou"):
    """model x corruption ``measure`` at ``severity`` (None: the background scenarios), the clean
    value first, models by clean value."""
    style()
    rows = corruptions[corruptions.family == "scenario"] if severity is None else corruptions[
        (corruptions.family != "scenario") & (corruptions.severity == severity)]
    label = LABELS[measure]
    title = f"{label} per background scenario" if severity is None else f"{label} per corruption (severity {severity})"
    return _condition_heatmap(rows, "corruption", title, measure)


def attack_heatmap(attacks: pd.DataFrame, measure: str = "miou"):
    """model x threat model (attack-norm) ``measure``, the clean value first, models by clean value."""
    style()
    rows = attacks.assign(threat=attacks.attack + "-" + attacks.norm)
    return _condition_heatmap(rows, "threat", f"{LABELS[measure]} under attack", measure)


def _condition_heatmap(rows: pd.DataFrame, column: str, title: str, measure: str):
    table = rows.pivot(index="model", columns=column, values=measure)
    table.insert(0, "clean", rows.groupby("model")[f"clean_{measure}"].first())
    table = table.sort_values("clean", ascending=False)
    figure, ax = plt.subplots(figsize=(1.0 + 0.55 * table.shape[1], 0.9 + 0.35 * table.shape[0]))
    heatmap(ax, table, title, rotation=60, vmin=0)
    data = table.reset_index().melt(id_vars="model", var_name=column, value_name=measure)
    return figure, data


def severity_curves(corruptions: pd.DataFrame, curve_corruptions: list[str], families: dict[str, str]):
    """mIoU against severity (0 = clean) for each of ``curve_corruptions``, one line per model."""
    style()
    rows = corruptions[corruptions.corruption.isin(curve_corruptions)]
    clean = rows.groupby("model").clean_miou.first()
    data = pd.concat([rows[["model", "corruption", "severity", "miou"]],
                      pd.DataFrame([{"model": model, "corruption": corruption, "severity": 0, "miou": value}
                                    for corruption in curve_corruptions for model, value in clean.items()])])
    data = data.sort_values(["corruption", "model", "severity"]).reset_index(drop=True)
    return _curve_panels(data, "corruption", curve_corruptions, "severity", "severity (0 = clean)", families), data


def attack_curves(curves: pd.DataFrame, families: dict[str, str], measure: str = "miou"):
    """``measure`` against the attack iteration (0: the start; BIM's is the clean image) for
    each threat model, one line per model (DetecBench's curve)."""
    style()
    curves = curves.assign(threat=curves.attack + "-" + curves.norm)
    threats = list(dict.fromkeys(curves.threat))
    return _curve_panels(curves, "threat", threats, "iteration", "attack iteration", families, measure), curves


def _curve_panels(data: pd.DataFrame, panel: str, panels: list[str], x: str, xlabel: str,
                  families: dict[str, str], measure: str = "miou"):
    """One panel per value in ``panels`` of column ``panel``, ``measure`` against ``x``, a line
    per model marked by its family."""
    markers = family_markers(families.values())
    figure, axes = panel_grid(len(panels), width=3.8, height=3.2, columns=4)
    for ax, name in zip(axes, panels):
        for model, curve in data[data[panel] == name].groupby("model"):
            ax.plot(curve[x], curve[measure], marker=markers[families[model]], label=model, linewidth=1)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(LABELS[measure])
        ax.set_ylim(bottom=0)
    axes[-1].legend(fontsize="x-small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return figure


def rem_figure(rems: pd.DataFrame, families: dict[str, str], measure: str = "miou"):
    """ReM against the clean ``measure`` and against GAM (where the corruptions are configured),
    per model, each panel titled with its PCC over models (SemSegBench finds no correlation
    between them)."""
    from scipy.stats import pearsonr

    style()
    markers = family_markers(families.values())
    pairs = [(f"clean_{measure}", f"clean {LABELS[measure]}")] + ([("gam", "GAM (worst corruption)")]
                                                                   if "gam" in rems else [])
    figure, axes = panel_grid(len(pairs), width=4.2, height=3.8, columns=2)
    for ax, (column, label) in zip(axes, pairs):
        for row in rems.itertuples():
            ax.scatter(getattr(row, column), row.rem, marker=markers[families[row.model]], label=row.model)
        defined = rems[[column, "rem"]].dropna()
        pcc = pearsonr(defined[column], defined.rem).statistic if len(defined) > 2 else float("nan")
        ax.set_title(f"PCC {pcc:.2f} over {len(defined)} models")
        ax.set_xlabel(label)
        ax.set_ylabel("ReM (worst attack)")
    axes[-1].legend(fontsize="x-small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return figure, rems


def gam_figure(gams: pd.DataFrame, families: dict[str, str], measure: str = "miou"):
    """GAM and the mean corruption ``measure`` against the clean one, per model (the diagonal: no
    loss)."""
    style()
    markers = family_markers(families.values())
    figure, axes = panel_grid(2, width=4.2, height=3.8, columns=2)
    panels = {"gam": "GAM (worst corruption)", f"mean_corruption_{measure}": "mean over corruptions"}
    clean = f"clean_{measure}"
    for ax, (column, title) in zip(axes, panels.items()):
        for row in gams.itertuples():
            ax.scatter(getattr(row, clean), getattr(row, column), marker=markers[families[row.model]],
                       label=row.model)
        top = max(gams[clean].max(), 0.05) * 1.05
        ax.plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel(f"clean {LABELS[measure]}")
        ax.set_ylabel(title)
    axes[-1].legend(fontsize="x-small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return figure, gams


def s_robust_figure(table: pd.DataFrame):
    """Per scenario-trained model: C(i) (trained on the original data) and C'(i) (trained on
    scenario i) on each scenario, mu dashed, S_robust in the title (XImageNet-12)."""
    style()
    models = list(dict.fromkeys(table.model))
    scenarios = list(dict.fromkeys(table.scenario))
    figure, axes = panel_grid(len(models), width=0.9 + 0.55 * len(scenarios), height=3.4, columns=3)
    for ax, model in zip(axes, models):
        rows = table[table.model == model].set_index("scenario").loc[scenarios]
        positions = range(len(scenarios))
        ax.bar([x - 0.2 for x in positions], rows.cross_miou, width=0.4, label="C(i): trained on original")
        ax.bar([x + 0.2 for x in positions], rows.inner_miou, width=0.4, label="C'(i): trained on scenario i")
        ax.axhline(rows.mu.iloc[0], color="grey", linestyle="--", linewidth=0.8, label="mu: original")
        ax.set_xticks(list(positions), scenarios, rotation=60, ha="right")
        ax.set_ylabel("mIoU")
        ax.set_title(f"{model}: S_robust {rows.s_robust.iloc[0]:.3f}")
    axes[-1].legend(fontsize="x-small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return figure, table


def proxy_figure(proxies: pd.DataFrame):
    """Per real shift, each proxy family's PCC with its Fisher-z 95% interval (families in one
    order down every panel, named on the left); the best in black."""
    style()
    shifts = list(dict.fromkeys(proxies["shift"]))
    families = list(dict.fromkeys(proxies.family))
    figure, axes = panel_grid(len(shifts), width=3.2, height=0.6 + 0.45 * len(families), columns=len(shifts))
    for index, (ax, shift) in enumerate(zip(axes, shifts)):
        rows = proxies[proxies["shift"] == shift]
        for row in rows.itertuples():
            y = families.index(row.family)
            ax.errorbar(row.pearson_r, y, xerr=[[row.pearson_r - row.fisher_low], [row.fisher_high - row.pearson_r]],
                        fmt="o", color="black" if row.rank == 1 else "tab:blue", capsize=3)
            ax.annotate(f"{row.pearson_r:.2f}", (row.pearson_r, y), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize="x-small")
        ax.set_yticks(range(len(families)), families if index == 0 else [])
        ax.set_ylim(len(families) - 0.5, -0.7)
        ax.set_xlim(-1.05, 1.1)
        ax.axvline(0, color="grey", linewidth=0.8)
        ax.set_title(f"{shift} ({rows.real.iloc[0]})")
        ax.set_xlabel("PCC over models")
    return figure, proxies
