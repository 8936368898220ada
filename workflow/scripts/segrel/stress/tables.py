"""The stress stage's tables, from the metrics table: mIoU per corruption and per attack, GAM and
ReM per model, the mIoU along each attack's iterations, and the proxy study (which proxy family
predicts each real shift best)."""

from __future__ import annotations

import pandas as pd

from segrel.analyse.statistics import CORRELATION_COLUMNS, correlation, subset_miou
from segrel.evaluate.metrics_table import select_metrics
from segrel.stress.aggregates import gam, s_robust, worst_case


def miou_by_test_set(metrics: pd.DataFrame) -> pd.DataFrame:
    """model x test set mIoU of a metrics table."""
    return select_metrics(metrics, ["miou"]).pivot(index="model", columns="test_set", values="value").sort_index()


def _require(table: pd.DataFrame, test_sets) -> None:
    missing = [name for name in test_sets if name not in table.columns]
    if missing:
        raise ValueError(f"no value for test set(s) {missing} in the table: is the evaluation up to date?")


def condition_table(table: pd.DataFrame, conditions: dict[str, dict], columns, clean_value, measure: str = "miou"
                    ) -> pd.DataFrame:
    """One row per (model of ``table``, a model x test set table of ``measure``, e.g.
    :func:`miou_by_test_set`; test set of ``conditions``): the test set's ``columns`` (its entry
    in ``conditions``), its ``measure`` and ``clean_value(model, test set)`` (column
    ``clean_<measure>``)."""
    _require(table, conditions)
    rows = [{"model": model, "test_set": name, **spec, measure: table.at[model, name],
             f"clean_{measure}": clean_value(model, name)}
            for model in table.index for name, spec in conditions.items()]
    return pd.DataFrame(rows, columns=["model", "test_set", *columns, measure, f"clean_{measure}"])


def corruption_table(metrics: pd.DataFrame, corrupted: dict[str, dict], clean: str) -> pd.DataFrame:
    """One row per (model, corrupted test set): corruption, family, severity, mIoU and the clean
    set's mIoU. ``corrupted``: {test set: {corruption, family, severity}}."""
    table = miou_by_test_set(metrics)
    _require(table, [clean])
    return condition_table(table, corrupted, ["corruption", "family", "severity"],
                           lambda model, _: table.at[model, clean])


def attack_table(metrics: pd.DataFrame, attacked: dict[str, dict], clean_on_images: dict[tuple[str, str], float]
                 ) -> pd.DataFrame:
    """One row per (model, attacked test set): attack, norm, mIoU and the model's clean mIoU on
    the same images (``clean_on_images``: {(model, attacked test set): it}, from
    :func:`clean_miou_on_images`: an attacked set may hold only the first images of the clean
    one). ``attacked``: {test set: {attack, norm}}."""
    return condition_table(miou_by_test_set(metrics), attacked, ["attack", "norm"],
                           lambda model, name: clean_on_images[model, name])


def clean_miou_on_images(clean, images: list[str], excluded_classes=()) -> float:
    """The mIoU of ``clean`` (the :class:`segrel.evaluate.evaluation.EvaluationState` of a clean
    test set) over its ``images`` only, from its per-image confusion matrices (no pass again)."""
    index = {name: position for position, name in enumerate(clean.image_names)}
    missing = [name for name in images if name not in index]
    if missing:
        raise ValueError(f"{clean.source}: no image(s) {missing[:3]} in the clean test set's evaluation")
    return subset_miou(clean.image_confusion_array(), [index[name] for name in images], excluded_classes)


def rem_table(attacks: pd.DataFrame, gams: pd.DataFrame | None = None, measure: str = "miou") -> pd.DataFrame:
    """Per model: clean ``measure``, ReM (the worst ``measure`` over the attacks of ``attacks``, an
    :func:`attack_table`), the threat model that gives it, the mean attacked ``measure`` and,
    with ``gams`` (a :func:`gam_table`), GAM."""
    rows = []
    for model, group in attacks.groupby("model", sort=True):
        by_threat = {f"{row.attack}-{row.norm}": float(getattr(row, measure)) for row in group.itertuples()}
        rows.append({"model": model, f"clean_{measure}": float(group[f"clean_{measure}"].iloc[0]),
                     "rem": worst_case(by_threat, "rem"), "worst_attack": min(by_threat, key=by_threat.get),
                     f"mean_attack_{measure}": sum(by_threat.values()) / len(by_threat), "attacks": len(by_threat)})
    table = pd.DataFrame(rows, columns=["model", f"clean_{measure}", "rem", "worst_attack", f"mean_attack_{measure}",
                                        "attacks"])
    if gams is not None:
        table = table.merge(gams[["model", "gam"]], on="model", how="left")
    return table


def attack_curve_table(ablations: pd.DataFrame, attacked: dict[str, dict]) -> pd.DataFrame:
    """The mIoU after each attack iteration (0: the start) per (model, attacked test set), from
    the evaluation's ablations table."""
    rows = ablations[(ablations.ablation == "attack_iterations") & ablations.test_set.isin(list(attacked))]
    missing = sorted(set(attacked) - set(rows.test_set))
    if missing:
        raise ValueError(f"no attack iterations for test set(s) {missing} in the ablations table: is the "
                         "evaluation up to date?")
    table = rows.assign(iteration=rows.setting.astype(int), miou=rows.value,
                        attack=rows.test_set.map(lambda name: attacked[name]["attack"]),
                        norm=rows.test_set.map(lambda name: attacked[name]["norm"]))
    columns = ["model", "test_set", "attack", "norm", "iteration", "miou"]
    return table[columns].sort_values(["test_set", "model", "iteration"]).reset_index(drop=True)


def gam_table(metrics: pd.DataFrame, gam_sets: dict[str, str], clean: str) -> pd.DataFrame:
    """Per model: clean mIoU, GAM (worst mIoU over ``gam_sets``, {test set: corruption}), the
    corruption that gives it, and the mean mIoU over them (:func:`gam_rows`)."""
    return gam_rows(miou_by_test_set(metrics), gam_sets, clean)


def gam_rows(table: pd.DataFrame, gam_sets: dict[str, str], clean: str, measure: str = "miou") -> pd.DataFrame:
    """GAM per model of ``table`` (model x test set ``measure``): its clean ``measure``, the worst
    over ``gam_sets`` ({test set: corruption}), the corruption that gives it and the mean."""
    _require(table, [clean, *gam_sets])
    rows = []
    for model in table.index:
        by_corruption = {corruption: float(table.at[model, name]) for name, corruption in gam_sets.items()}
        rows.append({"model": model, f"clean_{measure}": float(table.at[model, clean]), "gam": gam(by_corruption),
                     "worst_corruption": min(by_corruption, key=by_corruption.get),
                     f"mean_corruption_{measure}": sum(by_corruption.values()) / len(by_corruption),
                     "corruptions": len(by_corruption)})
    return pd.DataFrame(rows)


def s_robust_table(metrics: pd.DataFrame, trained_metrics: pd.DataFrame, scenario_sets: dict[str, str],
                   clean: str) -> pd.DataFrame:
    """One row per (model of ``trained_metrics``, scenario): mu (the model's mIoU on ``clean``),
    C(i) (``cross_miou``: the model on scenario i's test set), C'(i) (``inner_miou``: the model
    trained on scenario i, on that set) and the model's S_robust (on each of its rows).
    ``scenario_sets``: {scenario: its test set}; ``trained_metrics``: the scenario-trained
    models' metrics, under their own models' names."""
    cross, inner = miou_by_test_set(metrics), miou_by_test_set(trained_metrics)
    _require(cross, [clean, *scenario_sets.values()])
    _require(inner, scenario_sets.values())
    rows = []
    for model in inner.index:
        mu = float(cross.at[model, clean])
        by_scenario = {scenario: (float(cross.at[model, test_set]), float(inner.at[model, test_set]))
                       for scenario, test_set in scenario_sets.items()}
        score = s_robust([c for c, _ in by_scenario.values()], [c for _, c in by_scenario.values()], mu)
        rows += [{"model": model, "scenario": scenario, "test_set": scenario_sets[scenario], "mu": mu,
                  "cross_miou": c, "inner_miou": c_inner, "s_robust": score}
                 for scenario, (c, c_inner) in by_scenario.items()]
    return pd.DataFrame(rows, columns=["model", "scenario", "test_set", "mu", "cross_miou", "inner_miou", "s_robust"])


def proxy_table(metrics: pd.DataFrame, shifts: dict[str, str], families: dict[str, dict[str, list[str]]], *,
                confidence: float, resamples: int, seed: int) -> pd.DataFrame:
    """One row per (real shift, proxy family): the PCC over models between the family's mIoU (the
    mean over its test sets) and the real shift's, with its CIs; ``rank`` 1 = the family whose
    PCC is highest for that shift. ``shifts``: {shift: real test set}; ``families``:
    {shift: {family: [test sets]}}."""
    table = miou_by_test_set(metrics)
    rows = []
    for shift, real in shifts.items():
        for family, test_sets in families[shift].items():
            _require(table, [real, *test_sets])
            pairs = pd.DataFrame({"proxy": table[test_sets].mean(axis=1), "real": table[real]}).dropna()
            rows.append({"shift": shift, "real": real, "family": family, "proxies": " ".join(test_sets),
                         **correlation(pairs.proxy, pairs.real, confidence=confidence, resamples=resamples,
                                       seed=seed)})
    result = pd.DataFrame(rows, columns=["shift", "real", "family", "proxies", *CORRELATION_COLUMNS])
    ranks = result.groupby("shift").pearson_r.rank(ascending=False, method="min")
    result["rank"] = ranks.astype("Int64")  # an undefined PCC (a constant proxy) has none
    return result
