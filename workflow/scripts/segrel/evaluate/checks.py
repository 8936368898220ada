"""The evaluate stage's config cross-checks (what the schema cannot say)."""

from __future__ import annotations


def config_problems(config: dict) -> list[str]:
    """Every test set names a dataset with segmentation or anomaly labels; the in-domain test set
    and the ablations' test sets are test sets."""
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
    return problems + _ablation_problems(config, in_domain)


def _ablation_problems(config: dict, in_domain: str | None) -> list[str]:
    """The ablations' test sets are test sets, and include the in-domain one that Fig. 10 draws
    and Fig. 11's image-level OOD AUROC takes its positives from."""
    ablations = config.get("evaluation", {}).get("ablations", {})
    listed = ablations.get("test_sets")
    if listed is None:
        return []
    key = "config key 'evaluation.ablations.test_sets'"
    problems = [f"{key}: no test set named {name!r}" for name in listed if name not in config.get("test_sets", {})]
    asked = ablations.get("calibration_pixels") or ablations.get("negative_entropy")
    if asked and in_domain is not None and in_domain not in listed:
        problems.append(f"{key}: add the in-domain test set {in_domain!r} (evaluation.in_domain_test_set): "
                        "RELIS Fig. 10 draws it and Fig. 11 takes its images as the in-distribution ones")
    return problems
