"""The detect stage's config: its test sets (``stress.test_set``, its corrupted copies and the
detection attacks), its detectors' sources, and what the schema cannot check."""

from __future__ import annotations

from pathlib import Path

from segrel.stress.catalogue import SCENARIOS, family, stressed_name


def detector_source(spec: dict) -> str:
    """demo, zoo or url: as given, else zoo when the entry names a zoo model.

    >>> detector_source({"zoo": "retinanet_r50_fpn_1x_coco"}), detector_source({"base": "x.py"})
    ('zoo', 'demo')
    """
    return spec.get("source") or ("zoo" if "zoo" in spec else "demo")


def detection_test_sets(config: dict) -> dict[str, dict]:
    """{test set: its record} of the detect stage (none without detectors): the clean
    ``stress.test_set`` (kind clean), each corrupted copy of it the stress stage writes (kind
    corruption; not the background scenarios, which change the scene) and each (norm, method)
    of ``detection.attacks`` (kind attack, ``<test set>-<method>-<norm>``). A record: dataset
    (the images), source (the dataset whose boxes it has), split, subset, kind, condition,
    severity, norm, attack, and (corruptions) gam: whether it is one of GAM's (SemSegBench's 15
    common 2D corruptions at stress.severity, as the stress stage's GAM)."""
    detection, stress = config.get("detection", {}), config.get("stress", {})
    clean = stress.get("test_set")
    spec = config.get("test_sets", {}).get(clean)
    if not detection.get("detectors") or spec is None:
        return {}
    base = {"dataset": spec["dataset"], "source": spec["dataset"], "split": spec.get("split", "val"),
            "subset": spec.get("subset", "*"), "attack": None, "severity": None, "norm": None}
    sets = {clean: {**base, "kind": "clean", "condition": "clean"}}
    from segrel.stress.checks import configured_attacks, configured_corruptions, gam_test_sets

    if detection.get("corruptions", True):

        gam_sets = gam_test_sets(config)
        for name, severity in configured_corruptions(stress):
            test_set = stressed_name(clean, name, severity)
            if name not in SCENARIOS and test_set in config.get("test_sets", {}):
                sets[test_set] = {**base, "dataset": config["test_sets"][test_set]["dataset"], "kind": "corruption",
                                  "condition": name, "family": family(name), "severity": severity,
                                  "gam": test_set in gam_sets}
    # the stress stage's naming and settings of an attack; a detection batch is detection.batch_size
    attacks = detection.get("attacks", {})
    own = {"test_set": clean, "attacks": attacks, "seed": stress.get("seed", 0)}
    for name, settings in configured_attacks(own).items():
        settings = {key: value for key, value in settings.items() if key != "batch_size"}
        sets[name] = {**base, "kind": "attack", "condition": settings["name"], "norm": settings["norm"],
                      "attack": {**settings, "raw_input_loss": attacks.get("raw_input_loss", False)}}
    return sets


def config_problems(config: dict) -> list[str]:
    """Each detector has what its source needs; the detect stage's test set is a Cityscapes-format
    set (its boxes come from gtFine's instance ids); the training dataset too."""
    detection = config.get("detection", {})
    detectors = detection.get("detectors", {})
    if not detectors:
        return []
    problems = []
    for name, spec in detectors.items():
        source = detector_source(spec)
        needed = {"demo": ["base"], "zoo": ["zoo"], "url": ["config", "weights"]}[source]
        missing = [key for key in needed if key not in spec]
        if missing:
            problems.append(f"detection.detectors.{name}: a {source} detector needs `{'`, `'.join(missing)}`")
        elif source != "demo":
            problems += _download_problems(name, spec)
    datasets, stress = config.get("datasets", {}), config.get("stress", {})
    test_set = config.get("test_sets", {}).get(stress.get("test_set"))
    if test_set is None:
        problems.append("detection.detectors needs stress.test_set: the clean test set the detectors are evaluated "
                        "on (its corrupted copies and attacks are the stress stage's)")
    elif datasets.get(test_set["dataset"], {}).get("format") != "cityscapes":
        problems.append(f"detection: stress.test_set {stress['test_set']} is not a Cityscapes-format set; its boxes "
                        "are read from gtFine's *_instanceIds.png files")
    train = detection.get("training", {}).get("train_dataset", "cityscapes")
    if any(detector_source(spec) == "demo" for spec in detectors.values()) and \
            datasets.get(train, {}).get("format") != "cityscapes":
        problems.append(f"detection.training.train_dataset {train!r} is not a Cityscapes-format dataset of `datasets`")
    return problems


def _download_problems(name: str, spec: dict) -> list[str]:
    """A zoo name its metafiles know, a URL whose file name carries its checksum."""
    try:
        fetched_detector(spec).sha256_prefix  # noqa: B018 (raises for a file name without a checksum)
    except (KeyError, ValueError) as error:
        return [f"detection.detectors.{name}: {error.args[0]}"]
    return []


def fetched_detector(spec: dict):
    """The :class:`segrel.models.zoo.ZooModel` of a zoo or url detector (what rule fetch_detector gets)."""
    from segrel.detect.detectors import resolve_detector
    from segrel.models.zoo import ZooModel

    if detector_source(spec) == "zoo":
        return resolve_detector(spec["zoo"])
    return ZooModel(Path(spec["weights"]).stem, spec["config"], spec["weights"], "", None)
