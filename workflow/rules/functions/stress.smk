# Helper functions and constants of stage "stress", used by ../stress.smk.
import re

from segrel.stress.catalogue import family as corruption_family, stressed_name
from segrel.stress.checks import (
    configured_corruptions,
    gam_test_sets,
    proxy_families,
    stressed_datasets,
)

STRESS = config["stress"]
# {dataset: {dataset, split, subset, name, severity}} of every corrupted copy
STRESSED_DATASETS = stressed_datasets(config)
GAM_TEST_SETS = gam_test_sets(config)


def stressed_set(dataset):
    """What rule stress_dataset corrupts (segrel.stress.testsets.StressedSet's fields)."""
    record = STRESSED_DATASETS[dataset]
    source = config["datasets"][record["dataset"]]
    return {
        "format": source["format"],
        "root": dataset_root(record["dataset"]),
        "split": record["split"],
        "subset": record["subset"],
        "name": record["name"],
        "severity": record.get("severity"),  # none for a scenario
        "seed": STRESS["seed"],
        "images": STRESS["images"],
        "unknown_ids": source["unknown_ids"],
    }


def corrupted_test_sets():
    """{test set: {corruption, family, severity}} of stress.test_set's corrupted variants."""
    return {
        stressed_name(STRESS["test_set"], name, severity): {
            "corruption": name,
            "family": corruption_family(name),
            "severity": severity,
        }
        for name, severity in configured_corruptions(STRESS)
    }


def stress_figures():
    """The figures the config asks for (severity curves and GAM only with their corruptions)."""
    figures = ["corruptions"] if STRESS["corruptions"] else []
    figures += ["scenarios"] if STRESS["scenarios"] else []
    figures += ["severity_curves"] if STRESS["curves"]["corruptions"] else []
    figures += ["gam"] if GAM_TEST_SETS else []
    return figures + (["proxies"] if STRESS["proxy_study"] else [])


STRESS_FIGURE_TABLES = {
    "corruptions": "results/tables/stress/corruptions.csv",
    "scenarios": "results/tables/stress/corruptions.csv",
    "severity_curves": "results/tables/stress/corruptions.csv",
    "gam": "results/tables/stress/gam.csv",
    "proxies": "results/tables/stress/proxies.csv",
}


def stress_outputs():
    """Every table and figure of the stress stage the config asks for."""
    figures = stress_figures()
    return sorted({STRESS_FIGURE_TABLES[figure] for figure in figures}) + [
        f"results/figures/stress/{figure}.png" for figure in figures
    ]
