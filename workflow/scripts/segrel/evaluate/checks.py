"""The evaluate stage's config cross-checks (what the schema cannot say)."""

from __future__ import annotations


def config_problems(config: dict) -> list[str]:
    """Every test set names a dataset with segmentation or anomaly labels; the in-domain test set
    is one of the test sets."""
    from segrel.core.formats import FORMATS

    problems = []
    datasets = config.get("datasets", {})
    for name, test_set in config.get("test_sets", {}).items():
        if test_set["dataset"] not in datasets:
            problems.append(f"config key 'test_sets.{name}.dataset': no dataset named {test_set['dataset']!r}; "
                            f"datasets are: {', '.join(sorted(datasets))}")
        elif FORMATS[datasets[test_set["dataset"]]["format"]].kind == "detection":
            problems.append(f"config key 'test_sets.{name}': {test_set['dataset']!r} is a detection dataset (boxes, "
                            "no segmentation labels) that segmenters cannot be scored on; list it under "
                            "detection.test_sets")
    in_domain = config.get("evaluation", {}).get("in_domain_test_set")
    if in_domain is not None and config.get("test_sets") and in_domain not in config["test_sets"]:
        problems.append(f"config key 'evaluation.in_domain_test_set': no test set named {in_domain!r}")
    return problems
