"""Print the README's tables of a finished demo run, from its results/ (markdown, one table per
section): the models' mIoU, the PCCs, Table 1, calibration, GAM, the proxy study and attacks.

    python tools/demo_tables.py [--results results] [--config config/config.yaml]

Every number is read from the run's own tables; nothing here computes a metric.
"""

import argparse
from pathlib import Path

import pandas as pd
import yaml

SHIFTS = {"fog": "acdc_fog", "night": "acdc_night", "rain": "acdc_rain", "snow": "acdc_snow", "india": "idd_val"}
MODEL_COLUMNS = {"cityscapes_val": "CS val", "acdc_fog": "ACDC fog", "acdc_night": "ACDC night",
                 "acdc_rain": "ACDC rain", "acdc_snow": "ACDC snow", "idd_val": "IDD",
                 **{f"synthetic_{shift}": f"syn. {shift}" for shift in SHIFTS}}


def markdown(table: pd.DataFrame) -> str:
    rows = [list(map(str, table.columns)), ["---"] * len(table.columns)]
    rows += [["" if pd.isna(value) else str(value) for value in row] for row in table.itertuples(index=False)]
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def interval(row) -> str:
    return f"{row.pearson_r:.2f} [{row.fisher_low:.2f}, {row.fisher_high:.2f}]"


def miou(metrics: pd.DataFrame) -> pd.DataFrame:
    """model x test set mIoU, models by Cityscapes val mIoU, best first."""
    table = metrics[metrics.measure == "miou"].pivot(index="model", columns="test_set", values="value")
    return table.sort_values("cityscapes_val", ascending=False)


def models_table(metrics: pd.DataFrame) -> pd.DataFrame:
    table = miou(metrics)[list(MODEL_COLUMNS)].map(lambda value: f"{value:.2f}").rename(columns=MODEL_COLUMNS)
    ece = metrics[(metrics.measure == "ece") & (metrics.test_set == "cityscapes_val")].set_index("model").value
    table["ECE (CS val)"] = ece.reindex(table.index).map(lambda value: f"{value:.3f}")
    return table.reset_index()


def pcc_table(correlations: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for shift in SHIFTS:
        pcc = correlations[(correlations.comparison == shift) & (correlations.metric == "miou")].set_index("proxy")
        rows.append({"shift": shift, "PCC_CS [Fisher 95%]": interval(pcc.loc["cityscapes_val"]),
                     "PCC_syn [Fisher 95%]": interval(pcc.loc[f"synthetic_{shift}"])})
    return pd.DataFrame(rows)


PROXY_FAMILIES = ["Cityscapes val", "generated", "physics", "matched corruption", "2D mean", "3D fog"]


def table1(proxies: pd.DataFrame, fidelity: pd.DataFrame, generators: list[str], best: str) -> pd.DataFrame:
    """Table 1: PCC of each generator's domain (and Cityscapes val, physics) per shift, and the
    label-map fidelity of model ``best`` on each generator's domain (SD's first)."""
    families = ["Cityscapes val", "generated", *[f"generated ({name})" for name in generators], "physics"]
    rows = []
    for shift, real in SHIFTS.items():
        pccs = proxies[proxies["shift"] == shift].set_index("family")
        row = {"shift": f"{shift} ({real})"}
        row |= {family: interval(pccs.loc[family]) if family in pccs.index else "" for family in families}
        of_model = fidelity[fidelity.model == best].set_index("domain").relative_fidelity
        domains = [shift, *[f"{shift} ({name})" for name in generators]]
        row[f"fidelity ({best})"] = " / ".join(f"{of_model[domain]:.2f}" for domain in domains)
        rows.append(row)
    return pd.DataFrame(rows)


CALIBRATION_ROWS = {  # README row: (calibration sets, method)
    "none": (["none"], ""),
    "CS (lindau, munster) / TS": (["cs"], "temperature"),
    "CS / clustering TS (4)": (["cs"], "clustering_k4"),
    "CS / LTS": (["cs"], "local"),
    "CS aug. / TS": (["cs_aug"], "temperature"),
    "all / TS": (["all"], "temperature"),
    "all / clustering TS (4)": (["all"], "clustering_k4"),
}


def calibration_table(calibration: pd.DataFrame, metrics: pd.DataFrame, synthetic_vs_real: dict) -> pd.DataFrame:
    """Mean ECE over the models per README row and real test set ("none": uncalibrated); each
    shift's own real calibration set (the oracle) and its generated one share a row, as
    ``synthetic_vs_real`` (config calibration.synthetic_vs_real) pairs them."""
    ece = calibration[calibration.measure == "ece"]
    plain = metrics[(metrics.measure == "ece") & metrics.test_set.isin(ece.test_set.unique())]
    ece = pd.concat([ece, plain.assign(calibration_set="none", method="")])
    columns = [name for name in MODEL_COLUMNS if name in set(ece.test_set)]
    rows = {**CALIBRATION_ROWS,
            "oracle (ACDC val, IDD train) / TS": ([pair["real"] for pair in synthetic_vs_real.values()], "temperature"),
            "synthetic domain / TS": ([pair["synthetic"] for pair in synthetic_vs_real.values()], "temperature")}
    table = []
    for label, (sets, method) in rows.items():
        chosen = ece[ece.calibration_set.isin(sets) & (ece.method == method)]
        means = chosen.groupby("test_set").value.mean()
        table.append({"calibrated on / method": label,
                      **{MODEL_COLUMNS[name]: f"{means[name]:.3f}" if name in means else "" for name in columns}})
    return pd.DataFrame(table)


def gam_table(gam: pd.DataFrame) -> pd.DataFrame:
    table = gam.sort_values("clean_miou", ascending=False)
    return pd.DataFrame({"model": table.model, "clean mIoU": table.clean_miou.map("{:.2f}".format),
                         "GAM (worst)": [f"{row.gam:.2f} ({row.worst_corruption})" for row in table.itertuples()],
                         "mean corruption mIoU": table.mean_corruption_miou.map("{:.2f}".format)})


def proxy_study(proxies: pd.DataFrame) -> pd.DataFrame:
    wide = proxies.assign(cell=[("**" if row.rank == 1 else "") + interval(row) + ("**" if row.rank == 1 else "")
                                for row in proxies.itertuples()])
    table = wide.pivot(index="shift", columns="family", values="cell").reindex(list(SHIFTS))
    families = PROXY_FAMILIES + [family for family in table.columns if family not in PROXY_FAMILIES]
    return table.reindex(columns=families).reset_index()


def attacks_table(rem: pd.DataFrame) -> pd.DataFrame:
    table = rem.sort_values("clean_miou", ascending=False)
    return pd.DataFrame({"model": table.model, "clean mIoU": table.clean_miou.map("{:.2f}".format),
                         "ReM (worst)": [f"{row.rem:.2f} ({row.worst_attack})" for row in table.itertuples()],
                         "mean attacked mIoU": table.mean_attack_miou.map("{:.2f}".format),
                         "GAM": table.gam.map("{:.2f}".format)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    args = parser.parse_args()
    tables, config = args.results / "tables", yaml.safe_load(args.config.read_text())
    metrics = pd.read_csv(tables / "metrics.csv")
    proxies = pd.read_csv(tables / "stress/proxies.csv")
    sections = {
        "models (mIoU)": models_table(metrics),
        "PCC over the models": pcc_table(pd.read_csv(tables / "correlations.csv")),
        "Table 1": table1(proxies, pd.read_csv(tables / "fidelity.csv"),
                          list(config["generation"].get("ablation") or {}), miou(metrics).index[0]),
        "calibration (mean ECE over the models)": calibration_table(pd.read_csv(tables / "calibration.csv"), metrics,
                                                                     config["calibration"]["synthetic_vs_real"]),
        "GAM": gam_table(pd.read_csv(tables / "stress/gam.csv")),
        "proxy study": proxy_study(proxies),
        "attacks": attacks_table(pd.read_csv(tables / "stress/rem.csv")),
    }
    for title, table in sections.items():
        print(f"## {title}\n\n{markdown(table)}\n")


if __name__ == "__main__":
    main()
