"""The calibrate stage's config cross-checks (what the schema cannot say) and its oracle warning."""

from __future__ import annotations


def config_problems(config: dict) -> list[str]:
    """Every calibration image source, evaluated test set and Fig. 6 pairing names what exists."""
    calibration = config.get("calibration", {})
    test_sets, datasets, sets = config.get("test_sets", {}), config.get("datasets", {}), calibration.get("sets", {})
    problems = []
    for name, spec in sets.items():
        for source in spec["images"]:
            if isinstance(source, str) and source not in test_sets:
                problems.append(f"config key 'calibration.sets.{name}.images': no test set named {source!r}; "
                                f"test sets are: {', '.join(sorted(test_sets))}")
            elif isinstance(source, dict) and source["dataset"] not in datasets:
                problems.append(f"config key 'calibration.sets.{name}.images': no dataset named "
                                f"{source['dataset']!r}; datasets are: {', '.join(sorted(datasets))}")
        problems += [f"config key 'calibration.sets.{name}.test_sets': no test set named {test_set!r}"
                     for test_set in spec["test_sets"] if test_set not in test_sets]
    maps = calibration.get("temperature_maps", {})
    if sets and maps.get("model") is not None and maps["model"] not in config.get("models", {}):
        problems.append(f"config key 'calibration.temperature_maps.model': no model named {maps['model']!r}")
    in_domain = calibration.get("in_domain_test_set")
    if in_domain is not None and in_domain not in test_sets:
        problems.append(f"config key 'calibration.in_domain_test_set': no test set named {in_domain!r}")
    for domain, pairing in calibration.get("synthetic_vs_real", {}).items():
        key = f"config key 'calibration.synthetic_vs_real.{domain}"
        if pairing["test_set"] not in test_sets:
            problems.append(f"{key}.test_set': no test set named {pairing['test_set']!r}")
        for role in ("synthetic", "real"):
            spec = sets.get(pairing[role])
            if spec is None:
                problems.append(f"{key}.{role}': no calibration set named {pairing[role]!r}; calibration sets "
                                f"are: {', '.join(sorted(sets)) or 'none'}")
            elif spec["test_sets"] and pairing["test_set"] not in spec["test_sets"]:
                problems.append(f"{key}.{role}': calibration set {pairing[role]!r} is not evaluated on "
                                f"{pairing['test_set']!r}: add it to calibration.sets.{pairing[role]}.test_sets")
            elif "temperature" not in spec["methods"]:
                problems.append(f"{key}.{role}': calibration set {pairing[role]!r} fits no temperature scaling")
    return problems


def calibrator_names(clusters, local: bool) -> list[str]:
    """The calibrators a set fits, in the order they are fitted: temperature scaling, clustering TS
    per number of clusters, local TS (torch-free: the rules name their outputs with it).

    >>> calibrator_names([2, 4], local=True)
    ['temperature', 'clustering_k2', 'clustering_k4', 'local']
    """
    return ["temperature", *(f"clustering_k{k}" for k in clusters), *(["local"] if local else [])]


def image_sources(config: dict, name: str) -> list[dict]:
    """The calibration set's image sources as {dataset, split, subset}, test set names resolved."""
    sources = []
    for source in config["calibration"]["sets"][name]["images"]:
        spec = config["test_sets"][source] if isinstance(source, str) else source
        sources.append({"dataset": spec["dataset"], "split": spec["split"], "subset": spec["subset"]})
    return sources


def evaluated_test_sets(config: dict, name: str) -> list[str]:
    """The test sets a calibration set's calibrators are evaluated on ([] in config: all)."""
    return config["calibration"]["sets"][name]["test_sets"] or list(config["test_sets"])


def oracle_warnings(config: dict) -> list[str]:
    """A calibration set that shares a (dataset, split) and subset with a test set it is evaluated
    on calibrates on test images: an oracle (RELIS' "oracle" sets are that on purpose)."""
    warnings = []
    for name in config.get("calibration", {}).get("sets", {}):
        for test_set in evaluated_test_sets(config, name):
            spec = config["test_sets"][test_set]
            for source in image_sources(config, name):
                if (source["dataset"], source["split"]) == (spec["dataset"], spec["split"]) and \
                        _overlap(source["subset"], spec["subset"]):
                    warnings.append(f"calibration set {name!r} shares images with test set {test_set!r} "
                                    f"({spec['dataset']} {spec['split']}): its results there are an oracle's")
                    break
    return warnings


def _overlap(a, b) -> bool:
    a, b = ([x] if isinstance(x, str) else list(x) for x in (a, b))
    return "*" in a or "*" in b or bool(set(a) & set(b))
