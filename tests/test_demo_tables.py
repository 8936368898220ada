"""tools/demo_tables.py: the README's tables read off a run's tables, checked on hand-made ones."""

import importlib.util
from pathlib import Path

import pandas as pd

_SPEC = importlib.util.spec_from_file_location("demo_tables", Path(__file__).parents[1] / "tools/demo_tables.py")
demo_tables = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(demo_tables)


def test_calibration_rows_average_models_and_share_the_oracle_row():
    rows = [("a", "cs", "temperature", "acdc_fog", 0.2), ("b", "cs", "temperature", "acdc_fog", 0.4),
            ("a", "acdc_fog_val", "temperature", "acdc_fog", 0.1), ("a", "idd_train", "temperature", "idd_val", 0.3),
            ("a", "cs", "local", "acdc_fog", 0.9)]
    calibration = pd.DataFrame([{"model": m, "calibration_set": s, "method": k, "test_set": t, "measure": "ece",
                                 "score": "", "value": v} for m, s, k, t, v in rows])
    metrics = pd.DataFrame({"model": ["a", "b", "a"], "test_set": ["acdc_fog", "acdc_fog", "idd_val"],
                            "measure": "ece", "score": "", "value": [0.5, 0.7, 0.2]})
    pairs = {"fog": {"test_set": "acdc_fog", "synthetic": "syn_fog", "real": "acdc_fog_val"},
             "india": {"test_set": "idd_val", "synthetic": "syn_india", "real": "idd_train"}}
    table = demo_tables.calibration_table(calibration, metrics, pairs).set_index("calibrated on / method")
    assert table.loc["none", "ACDC fog"] == "0.600" and table.loc["none", "IDD"] == "0.200"
    assert table.loc["CS (lindau, munster) / TS", "ACDC fog"] == "0.300"  # (0.2 + 0.4) / 2
    assert table.loc["CS / LTS", "ACDC fog"] == "0.900"
    oracle = table.loc["oracle (ACDC val, IDD train) / TS"]
    assert (oracle["ACDC fog"], oracle["IDD"]) == ("0.100", "0.300")
    assert table.loc["all / TS", "ACDC fog"] == ""


def test_table1_reads_the_best_models_fidelity_sd_first():
    interval = {"pearson_r": 0.9, "fisher_low": 0.5, "fisher_high": 0.97}
    proxies = pd.DataFrame([{"shift": shift, "family": family, **interval}
                            for shift in demo_tables.SHIFTS for family in ("generated (sdxl)", "generated")])
    fidelity = pd.DataFrame([{"model": model, "domain": domain, "relative_fidelity": value}
                             for shift in demo_tables.SHIFTS
                             for model, domain, value in [("best", f"{shift} (sdxl)", 0.25), ("best", shift, 0.5),
                                                          ("other", shift, 0.9)]])
    table = demo_tables.table1(proxies, fidelity, ["sdxl"], "best")
    assert list(table["fidelity (best)"]) == ["0.50 / 0.25"] * 5
    assert table.loc[0, "generated (sdxl)"] == "0.90 [0.50, 0.97]" and table.loc[0, "physics"] == ""
