"""The stress stage's config: corrupted test sets (added here as datasets and test sets of their
own, so that every later stage reads them as any other), attacked test sets (test sets of the
clean dataset with an ``attack``) and what the schema cannot check."""

from __future__ import annotations

from segrel.core.formats import dataset_format
from segrel.stress.catalogue import (
    COMMON_2D,
    CORRUPTIONS,
    CORRUPTIONS_2D,
    FORMATS_WITH_DEPTH,
    MATCHED_CORRUPTION,
    NEEDS_DEPTH,
    SCENARIOS,
    severity_problem,
    stressed_name,
)


def configured_corruptions(stress: dict) -> list[tuple[str, int | None]]:
    """(corruption, severity) of every test set stress.corruptions, stress.curves and
    stress.scenarios (severity None) ask for."""
    pairs = [(name, stress.get("severity", 3)) for name in stress.get("corruptions", [])]
    curves = stress.get("curves", {})
    pairs += [(name, severity) for name in curves.get("corruptions", []) for severity in curves.get("severities", [])]
    pairs += [(name, None) for name in stress.get("scenarios", [])]
    return list(dict.fromkeys(pairs))


def add_test_sets(config: dict) -> None:
    """stress.corruptions, curves and scenarios add the test sets
    ``<stress.test_set>-<corruption>-<severity>`` (``-<scenario>``); every test set with
    ``corruption`` then reads a generated dataset of its own name (its corrupted copy,
    :mod:`segrel.stress.testsets`), the original dataset kept in that dataset's ``stress``
    record. Idempotent."""
    # read, not set: a config without test sets or datasets gets the schema's defaults, not {}
    stress, test_sets, datasets = config.get("stress", {}), config.get("test_sets", {}), config.get("datasets", {})
    clean = test_sets.get(stress.get("test_set"))
    kept = {key: clean[key] for key in ("dataset", "split", "subset", "excluded_classes") if key in (clean or {})}
    if clean is not None and "corruption" not in clean:
        for name, severity in configured_corruptions(stress):
            corruption = {"name": name} if severity is None else {"name": name, "severity": severity}
            test_sets.setdefault(stressed_name(stress["test_set"], name, severity), {**kept, "corruption": corruption})
    if clean is not None and "corruption" not in clean:
        for name, attack in configured_attacks(stress).items():
            test_sets.setdefault(name, {**kept, "attack": attack})
    for name, spec in test_sets.items():
        source = datasets.get(spec.get("dataset"))
        if "corruption" not in spec or source is None or "stress" in source or name in datasets:
            continue  # done already, or config_problems names the problem
        datasets[name] = {"format": source["format"], "source": "generated",
                          "stress": {"dataset": spec["dataset"], "split": spec.get("split", "val"),
                                     "subset": spec.get("subset", "*"), **spec["corruption"]}}
        spec["dataset"] = name
    _add_training_sets(stress, datasets)


def configured_attacks(stress: dict) -> dict[str, dict]:
    """{test set: its attack} of every (norm, method) stress.attacks.methods asks for, named
    ``<stress.test_set>-<method>-<norm>``.

    >>> attacks = {"methods": {"linf": ["pgd"]}, "linf": {"eps": 8, "alpha": 2.55}, "iterations": 20}
    >>> configured_attacks({"test_set": "cityscapes_val", "attacks": attacks})
    {'cityscapes_val-pgd-linf': {'name': 'pgd', 'norm': 'linf', 'eps': 8, 'alpha': 2.55, 'iterations': 20, \
'images': None, 'seed': 0, 'batch_size': None}}
    """
    attacks = stress.get("attacks", {})
    return {stressed_name(stress.get("test_set"), f"{method}-{norm}"): {
                "name": method, "norm": norm, **attacks[norm], "iterations": attacks["iterations"],
                "images": attacks.get("images"), "seed": stress.get("seed", 0), "batch_size": attacks.get("batch_size")}
            for norm, methods in attacks.get("methods", {}).items() for method in methods}


def scenario_training_sets(stress: dict) -> dict[str, str]:
    """{scenario: dataset} of the scenario copies of stress.scenario_training.train_dataset's train
    split that its models are fine-tuned on (none without models)."""
    training = stress.get("scenario_training", {})
    if not training.get("models"):
        return {}
    train = training.get("train_dataset", "cityscapes")
    return {scenario: stressed_name(f"{train}_train", scenario) for scenario in stress.get("scenarios", [])}


def _add_training_sets(stress: dict, datasets: dict) -> None:
    training = stress.get("scenario_training", {})
    train = training.get("train_dataset", "cityscapes")
    for scenario, name in scenario_training_sets(stress).items():
        if train in datasets and name not in datasets:  # else config_problems names the problem
            datasets[name] = {"format": datasets[train]["format"], "source": "generated",
                              "stress": {"dataset": train, "split": "train", "subset": "*", "name": scenario,
                                         "images": training.get("images")}}


def stressed_datasets(config: dict) -> dict[str, dict]:
    """{dataset: its stress record} of every corrupted copy."""
    return {name: spec["stress"] for name, spec in config.get("datasets", {}).items() if "stress" in spec}


def has_depth(config: dict, dataset: str) -> bool:
    """Whether ``dataset``'s files give each image's depth: the demo writes them, a generated copy
    has none, a real copy has them where the config says so (datasets.<name>.depth)."""
    spec = config["datasets"][dataset]
    return spec["format"] in FORMATS_WITH_DEPTH and (spec["source"] == "demo" or spec.get("depth", False))


def config_problems(config: dict) -> list[str]:
    """Corruption names and severities exist, depth exists where a corruption needs it, the
    stressed test sets do not clash with other datasets, the proxy study names test sets."""
    stress, test_sets = config.get("stress", {}), config.get("test_sets", {})
    problems = [f"config key 'stress.corruptions': unknown corruption {name!r}; known: {', '.join(CORRUPTIONS)}"
                for name in stress.get("corruptions", []) + stress.get("curves", {}).get("corruptions", [])
                if name not in CORRUPTIONS or name in SCENARIOS]
    problems += [f"config key 'stress.scenarios': unknown scenario {name!r}; known: {', '.join(SCENARIOS)}"
                 for name in stress.get("scenarios", []) if name not in SCENARIOS]
    asked = (stress.get("corruptions") or stress.get("scenarios") or stress.get("proxy_study")
             or stress.get("attacks", {}).get("methods"))
    if asked and stress.get("test_set") not in test_sets:
        problems.append(f"config key 'stress.test_set': no test set named {stress.get('test_set')!r} to corrupt; "
                        f"test sets are: {', '.join(sorted(test_sets))}")
    for name, spec in test_sets.items():
        if "corruption" in spec:
            problems += _corruption_problems(config, name, spec)
        if "attack" in spec:
            problems += _attack_problems(config, name, spec)
    for shift, real in stress.get("proxy_study", {}).items():
        if real not in test_sets:
            problems.append(f"config key 'stress.proxy_study.{shift}': no test set named {real!r}")
    return problems + _scenario_training_problems(config) + _depth_estimator_problems(config)


def _scenario_training_problems(config: dict) -> list[str]:
    stress, datasets = config.get("stress", {}), config.get("datasets", {})
    training = stress.get("scenario_training", {})
    models = training.get("models", [])
    if not models:
        return []
    key = "config key 'stress.scenario_training"
    problems = [f"{key}.models': no model named {name!r}; models are: {', '.join(sorted(config.get('models', {})))}"
                for name in models if name not in config.get("models", {})]
    if not stress.get("scenarios"):
        problems.append(f"{key}.models': C'(i) is a model trained on scenario i, but stress.scenarios is empty: "
                        "list the scenarios, or no models")
    train = training.get("train_dataset", "cityscapes")
    if train not in datasets:
        problems.append(f"{key}.train_dataset': no dataset named {train!r}")
    elif datasets[train]["format"] != "cityscapes":  # mmseg's CityscapesDataset reads the train split
        problems.append(f"{key}.train_dataset': {train!r} is a {datasets[train]['format']} dataset; models are "
                        "trained on the train split of a cityscapes-format dataset")
    clashes = [name for name in scenario_training_sets(stress).values()
               if name in datasets and datasets[name].get("stress", {}).get("split") != "train"]
    problems += [f"{key}': its scenario copy of the train split is written as dataset {name!r}, which exists "
                 "already: rename that dataset" for name in clashes]
    return problems


def _attack_problems(config: dict, name: str, spec: dict) -> list[str]:
    dataset = config.get("datasets", {}).get(spec["dataset"])
    if dataset is None or dataset_format(dataset["format"]).kind == "segmentation":
        return []  # segrel.evaluate.checks names an unknown dataset
    return [f"config key 'test_sets.{name}.attack': attacks ascend the cross-entropy with each pixel's class, "
            f"which dataset {spec['dataset']!r} ({dataset['format']}) has no labels of; attack a segmentation "
            "test set"]


def _corruption_problems(config: dict, name: str, spec: dict) -> list[str]:
    key = f"config key 'test_sets.{name}.corruption"
    corruption, datasets = spec["corruption"], config.get("datasets", {})
    if corruption["name"] not in CORRUPTIONS:
        return [f"{key}.name': unknown corruption {corruption['name']!r}; known: {', '.join(CORRUPTIONS)}"]
    problem = severity_problem(corruption["name"], corruption.get("severity"))
    if problem:
        return [f"{key}.severity': {problem}"]
    if spec["dataset"] not in datasets:
        return []  # segrel.evaluate.checks names the unknown dataset
    record = datasets[spec["dataset"]].get("stress")
    if record is None:
        return [f"config key 'test_sets.{name}': a corrupted test set writes a dataset of its own name, but "
                f"datasets.{name} exists already: rename the test set"]
    source = record["dataset"]
    if corruption["name"] in SCENARIOS and dataset_format(datasets[source]["format"]).kind != "segmentation":
        return [f"{key}.name': scenario {corruption['name']} tells objects from background by Cityscapes' thing "
                f"classes, which dataset {source!r} ({datasets[source]['format']}) has no labels of; use it on a "
                "segmentation test set"]
    if corruption["name"] in NEEDS_DEPTH and not has_depth(config, source) and not config.get("stress", {}).get(
            "depth_estimator"):
        return [f"{key}.name': {corruption['name']} renders from each image's depth, which dataset {source!r} "
                f"({datasets[source]['format']}, {datasets[source]['source']}) does not ship; configure "
                "stress.depth_estimator (a metric depth model), or corrupt a "
                f"{' / '.join(FORMATS_WITH_DEPTH)} dataset with its disparity and camera files (and "
                f"datasets.<name>.depth: true)"]
    return []


def depth_estimates(config: dict) -> dict[str, tuple[str, str]]:
    """{corrupted copy: (dataset, split) whose estimated depth it reads} of the copies whose
    corruption needs depth their dataset does not ship (stress.depth_estimator estimates it)."""
    return {name: (record["dataset"], record["split"]) for name, record in stressed_datasets(config).items()
            if record["name"] in NEEDS_DEPTH and not has_depth(config, record["dataset"])}


def _depth_estimator_problems(config: dict) -> list[str]:
    estimator = config.get("stress", {}).get("depth_estimator")
    if not estimator or estimator["source"] != "demo":
        return []
    train = estimator.get("train_dataset", "cityscapes")
    if train not in config.get("datasets", {}) or not has_depth(config, train):
        return [f"config key 'stress.depth_estimator.train_dataset': the demo's depth estimator learns from a "
                f"dataset with depth files (a demo or depth: true cityscapes dataset), not {train!r}"]
    return []


def proxy_families(config: dict) -> dict[str, dict[str, list[str]]]:
    """{shift: {proxy family: [test sets whose mean mIoU is the proxy]}} of stress.proxy_study:
    every family that exists in the config (Loiseau Table 1 extended)."""
    stress, test_sets = config.get("stress", {}), config.get("test_sets", {})
    clean, severity = stress.get("test_set"), stress.get("severity", 3)
    corrupted = {name for name, _ in configured_corruptions(stress)}

    def at_severity(corruption):
        name = stressed_name(clean, corruption, severity)
        return [name] if corruption in corrupted and name in test_sets else []

    all_2d = [test_set for corruption in CORRUPTIONS_2D for test_set in at_severity(corruption)]
    families = {}
    for shift in stress.get("proxy_study", {}):
        candidates = {
            "Cityscapes val": [clean],
            "generated": [f"synthetic_{shift}"] if f"synthetic_{shift}" in test_sets else [],
            **{f"generated ({label})": [f"synthetic_{shift}_{label}"] if f"synthetic_{shift}_{label}" in test_sets
               else [] for label in config.get("generation", {}).get("ablation", {})},
            "physics": at_severity(f"physics_{shift}"),
            "matched corruption": at_severity(MATCHED_CORRUPTION[shift]) if shift in MATCHED_CORRUPTION else [],
            "2D mean": all_2d,
            "3D fog": at_severity("fog_3d"),
        }
        families[shift] = {family: sets for family, sets in candidates.items() if sets}
    return families


def gam_test_sets(config: dict, test_set: str | None = None) -> dict[str, str]:
    """{test set: corruption} of the 15 common 2D corruptions at stress.severity that are configured
    (SemSegBench's GAM set), of ``test_set`` (default stress.test_set)."""
    stress = config.get("stress", {})
    return {stressed_name(test_set or stress["test_set"], name, stress.get("severity", 3)): name
            for name in COMMON_2D if name in stress.get("corruptions", [])}
