"""The detect stage's config: its test sets (``stress.test_set`` and ``detection.test_sets``,
their corrupted copies and the detection attacks), its detectors' sources and label spaces, and
what the schema cannot check."""

from __future__ import annotations

from pathlib import Path

from segrel.detect.detectors import LABEL_SPACES
from segrel.stress.catalogue import NEEDS_DEPTH, SCENARIOS, family, stressed_name


def detector_source(spec: dict) -> str:
    """demo, zoo or url: as given, else zoo when the entry names a zoo model.

    >>> detector_source({"zoo": "retinanet_r50_fpn_1x_coco"}), detector_source({"base": "x.py"})
    ('zoo', 'demo')
    """
    return spec.get("source") or ("zoo" if "zoo" in spec else "demo")


def detector_label_space(spec: dict, config: dict) -> str | None:
    """The dataset format whose classes a detector predicts, and so the test sets it is evaluated
    on: ``trained_on``, else a demo detector's training dataset's format, else coco (mmdet's
    metafiles: COCO-trained detectors).

    >>> detector_label_space({"zoo": "retinanet_r50_fpn_1x_coco"}, {})
    'coco'
    """
    if spec.get("trained_on") or detector_source(spec) == "url":  # a url detector must say (config_problems)
        return spec.get("trained_on")
    if detector_source(spec) == "demo":
        return config.get("datasets", {}).get(train_dataset(spec, config), {}).get("format", "cityscapes")
    return "coco"


def train_dataset(spec: dict, config: dict) -> str:
    """The dataset a demo detector learns from: its own ``train_dataset``, else detection.training's."""
    return spec.get("train_dataset") or config.get("detection", {}).get("training", {}).get("train_dataset",
                                                                                           "cityscapes")


def clean_detection_sets(config: dict) -> dict[str, dict]:
    """{clean test set: {dataset, split, subset, images, format}}: ``stress.test_set`` where it is
    a Cityscapes-layout set (its boxes from gtFine's instance ids) and each of
    ``detection.test_sets`` (COCO val2017); none without detectors."""
    detection, datasets = config.get("detection", {}), config.get("datasets", {})
    if not detection.get("detectors"):
        return {}
    clean = config.get("stress", {}).get("test_set")
    stressed = config.get("test_sets", {}).get(clean)
    cityscapes = stressed and datasets.get(stressed["dataset"], {}).get("format") == "cityscapes"
    sets = {clean: stressed} if cityscapes else {}
    sets |= detection.get("test_sets", {})
    return {name: {"dataset": spec["dataset"], "split": spec.get("split", "val"), "subset": spec.get("subset", "*"),
                   "images": spec.get("images"), "format": datasets.get(spec["dataset"], {}).get("format")}
            for name, spec in sets.items()}


def detection_corruptions(config: dict, fmt: str | None) -> list[tuple[str, int | None]]:
    """(corruption, severity) of the corrupted copies a clean detection set of format ``fmt`` is
    evaluated on: the stress stage's (none with detection.corruptions false), but the background
    scenarios (they change the scene) and, on a COCO set, what reads segmentation labels."""
    from segrel.core.formats import FORMATS
    from segrel.stress.catalogue import NEEDS_LABELS
    from segrel.stress.checks import configured_corruptions

    if not config.get("detection", {}).get("corruptions", True):
        return []
    boxes_only = fmt in FORMATS and FORMATS[fmt].kind == "detection"
    return [(name, severity) for name, severity in configured_corruptions(config.get("stress", {}))
            if name not in SCENARIOS and not (boxes_only and name in NEEDS_LABELS)]


def add_datasets(config: dict) -> None:
    """The corrupted copies of each ``detection.test_sets`` entry, added as datasets of their own
    (``<test set>-<corruption>-<severity>``, written by the stress stage's stress_dataset rule
    as it writes those of stress.test_set). Idempotent."""
    datasets, detection = config.get("datasets", {}), config.get("detection", {})
    for clean, spec in clean_detection_sets(config).items():
        if clean not in detection.get("test_sets", {}) or spec["dataset"] not in datasets:
            continue  # the stress stage's own copies, or config_problems names the problem
        for name, severity in detection_corruptions(config, spec["format"]):
            datasets.setdefault(stressed_name(clean, name, severity), {
                "format": spec["format"], "source": "generated",
                "stress": {"dataset": spec["dataset"], "split": spec["split"], "subset": spec["subset"], "name": name,
                           "severity": severity, "images": spec["images"]}})


def detection_test_sets(config: dict) -> dict[str, dict]:
    """{test set: its record} of the detect stage (none without detectors): each clean set of
    :func:`clean_detection_sets` (kind clean), each corrupted copy of it (kind corruption,
    :func:`detection_corruptions`; stress.test_set's are the stress stage's) and each (norm,
    method) of ``detection.attacks`` (kind attack, ``<test set>-<method>-<norm>``). A record:
    dataset (the images), source (the dataset whose boxes it has), split, subset, images (the
    first this many; None = all), format, clean (its clean set), kind, condition, family,
    severity, norm, attack, and (corruptions) gam: whether it is one of GAM's (SemSegBench's 15
    common 2D corruptions at stress.severity)."""
    from segrel.stress.checks import configured_attacks, gam_test_sets

    detection, stress, datasets = config.get("detection", {}), config.get("stress", {}), config.get("datasets", {})
    attacks = detection.get("attacks", {})
    sets = {}
    for clean, spec in clean_detection_sets(config).items():
        base = {**spec, "source": spec["dataset"], "clean": clean, "attack": None, "severity": None, "norm": None}
        sets[clean] = {**base, "kind": "clean", "condition": "clean"}
        gam_sets = gam_test_sets(config, clean)
        for name, severity in detection_corruptions(config, spec["format"]):
            test_set = stressed_name(clean, name, severity)
            if test_set in config.get("test_sets", {}) or test_set in datasets:  # the stress stage's, or ours
                sets[test_set] = {**base, "dataset": test_set, "kind": "corruption", "condition": name,
                                  "family": family(name), "severity": severity, "gam": test_set in gam_sets}
        # the stress stage's naming and settings of an attack; a detection batch is detection.batch_size
        own = {"test_set": clean, "attacks": attacks, "seed": stress.get("seed", 0)}
        for name, settings in configured_attacks(own).items():
            settings = {key: value for key, value in settings.items() if key != "batch_size"}
            sets[name] = {**base, "kind": "attack", "condition": settings["name"], "norm": settings["norm"],
                          "attack": {**settings, "raw_input_loss": attacks.get("raw_input_loss", False),
                                     "curve": attacks.get("curves", False)}}
    return sets


def config_problems(config: dict) -> list[str]:
    """Each detector has what its source needs and test sets of its label space; each clean
    detection set is a Cityscapes-format set (its boxes come from gtFine's instance ids) or a
    COCO one, one per label space; a demo detector's training dataset is one of those formats."""
    detection = config.get("detection", {})
    detectors = detection.get("detectors", {})
    if not detectors:
        return []
    problems = []
    for name, spec in detectors.items():
        source = detector_source(spec)
        needed = {"demo": ["base"], "zoo": ["zoo"], "url": ["config", "weights", "trained_on"]}[source]
        missing = [key for key in needed if key not in spec]
        if missing:
            problems.append(f"detection.detectors.{name}: a {source} detector needs `{'`, `'.join(missing)}`")
        elif source != "demo":
            problems += _download_problems(name, spec)
    return problems + _test_set_problems(config) + _training_problems(config)


def _test_set_problems(config: dict) -> list[str]:
    datasets, detection, stress = config.get("datasets", {}), config.get("detection", {}), config.get("stress", {})
    problems = []
    by_space = {}
    clean_sets = clean_detection_sets(config)
    for name, spec in clean_sets.items():
        key = f"detection.test_sets.{name}" if name in detection.get("test_sets", {}) else "stress.test_set"
        if spec["dataset"] not in datasets:
            problems.append(f"{key}: no dataset named {spec['dataset']!r}; datasets are: {', '.join(sorted(datasets))}")
        elif spec["format"] not in LABEL_SPACES:
            problems.append(f"{key}: {name} is of format {spec['format']}; detection reads the boxes of a cityscapes "
                            "(gtFine's *_instanceIds.png) or a coco (annotations/instances_<split>.json) dataset")
        else:
            by_space.setdefault(spec["format"], []).append(name)
    problems += [f"detection: test sets {', '.join(names)} have the same label space ({space}); detectors of one "
                 "label space are compared on one clean test set: keep one" for space, names in by_space.items()
                 if len(names) > 1]
    for name, spec in detection.get("detectors", {}).items():
        space = detector_label_space(spec, config)
        if space in LABEL_SPACES and space not in by_space:
            problems.append(f"detection.detectors.{name}: it predicts {space} classes, and no detection test set is a "
                            f"{space} set: add one (stress.test_set, a Cityscapes-layout set whose corrupted copies "
                            "and attacks are the stress stage's, or detection.test_sets), or remove the detector")
    if stress.get("depth_estimator"):
        return problems
    from segrel.stress.checks import has_depth

    for name, spec in clean_sets.items():  # stress.test_set's copies: the stress stage's own check
        needs_depth = [corruption for corruption, _ in detection_corruptions(config, spec["format"])
                       if corruption in NEEDS_DEPTH]
        if name in detection.get("test_sets", {}) and spec["dataset"] in datasets and needs_depth and \
                not has_depth(config, spec["dataset"]):
            problems.append(f"detection.test_sets.{name}: {', '.join(needs_depth)} render from depth, which "
                            f"{spec['format'].upper()} does not ship; configure stress.depth_estimator (a metric "
                            "depth model)")
    return problems


def _training_problems(config: dict) -> list[str]:
    datasets = config.get("datasets", {})
    problems = []
    for name, spec in config.get("detection", {}).get("detectors", {}).items():
        train = train_dataset(spec, config)
        if detector_source(spec) == "demo" and datasets.get(train, {}).get("format") not in LABEL_SPACES:
            problems.append(f"detection.detectors.{name}: its training dataset {train!r} is not a cityscapes- or "
                            "coco-format dataset of `datasets`")
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
