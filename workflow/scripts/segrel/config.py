"""Config validation against workflow/schemas/config.schema.yaml, with short messages.

Snakemake's own ``validate`` prints the whole failing sub-schema; a user who mistyped one key
needs one line naming that key and what is allowed there. Defaults declared in the schema are
filled in, as ``snakemake.utils.validate(set_default=True)`` does.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators


class ConfigError(ValueError):
    """The configuration does not match the schema; the message lists every problem."""


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    # Defaults must not be shared between configs (nested defaults are filled in place).
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error) -> str:
    where = _key(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        keys = ", ".join(f"'{prefix}{key}'" for key in unknown)
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"unknown config key {keys}{hint}"
    message = f"config key '{where}': {error.message}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in ("type", "enum", "minimum", "maximum", "minItems", "maxItems") and description:
        message += f" ({description.strip()})"
    return message


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Fill in defaults and check ``config`` in place; raise :class:`ConfigError` listing every problem.

    >>> import tempfile, os
    >>> schema = "type: object\\nadditionalProperties: false\\nproperties:\\n  cores: {type: integer, default: 2}\\n"
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    ...     _ = f.write(schema)
    >>> validate_config({}, f.name)
    {'cores': 2}
    >>> validate_config({"core": 2}, f.name)
    Traceback (most recent call last):
    ...
    segrel.config.ConfigError: unknown config key 'core'; allowed keys here: cores
    >>> os.unlink(f.name)
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = _with_defaults(Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        raise ConfigError("\n".join(dict.fromkeys(_describe(error) for error in errors)))
    add_synthetic_test_sets(config)
    add_anomaly_test_sets(config)
    check_references(config)
    return config


def add_synthetic_test_sets(config: dict) -> None:
    """Each generation.domains entry adds a dataset and a test set ``synthetic_<name>``
    (unless the config already names them), so that the domain is evaluated and can be a proxy."""
    for domain in config.get("generation", {}).get("domains", {}):
        name = f"synthetic_{domain}"
        config.setdefault("datasets", {}).setdefault(name, {"format": "cityscapes", "source": "generated",
                                                            "domain": domain})
        config.setdefault("test_sets", {}).setdefault(name, {"dataset": name, "split": "val", "subset": "*"})


def check_references(config: dict) -> None:
    """Names that must point at other config entries (the schema cannot say this)."""
    problems = []
    datasets = config.get("datasets", {})
    for name, test_set in config.get("test_sets", {}).items():
        if test_set["dataset"] not in datasets:
            problems.append(f"config key 'test_sets.{name}.dataset': no dataset named {test_set['dataset']!r}; "
                            f"datasets are: {', '.join(sorted(datasets))}")
    in_domain = config.get("evaluation", {}).get("in_domain_test_set")
    if in_domain is not None and config.get("test_sets") and in_domain not in config["test_sets"]:
        problems.append(f"config key 'evaluation.in_domain_test_set': no test set named {in_domain!r}")
    train = config.get("model_training", {}).get("train_dataset")
    if config.get("models") and train is not None:
        if train not in datasets:
            problems.append(f"config key 'model_training.train_dataset': no dataset named {train!r}")
        elif datasets[train]["format"] != "cityscapes":
            problems.append(f"config key 'model_training.train_dataset': {train!r} must have format cityscapes")
    problems += _analysis_references(config)
    generation = config.get("generation", {})
    sets = generation.get("captions", {}).get("sets", {})
    for name, dataset in datasets.items():
        if (dataset.get("source") == "generated" and "anomalies" not in dataset
                and dataset.get("domain") not in generation.get("domains", {})):
            problems.append(f"config key 'datasets.{name}.domain': no generation.domains entry named "
                            f"{dataset.get('domain')!r}")
    source_set = generation.get("domain_generation", {}).get("source_set")
    if generation.get("domains") and source_set not in sets:
        problems.append(f"config key 'generation.domain_generation.source_set': no caption set named {source_set!r}")
    controlnet = generation.get("controlnet", {})
    for key, name in [("train_set", controlnet.get("train_set")),
                      ("validation.caption_set", controlnet.get("validation", {}).get("caption_set"))]:
        if name is not None and name not in sets:
            problems.append(f"config key 'generation.controlnet.{key}': no caption set named {name!r}; "
                            f"generation.captions.sets are: {', '.join(sorted(sets)) or 'none'}")
    for name, caption_set in sets.items():
        if caption_set["dataset"] not in datasets:
            problems.append(f"config key 'generation.captions.sets.{name}.dataset': no dataset named "
                            f"{caption_set['dataset']!r}; datasets are: {', '.join(sorted(datasets))}")
    problems += _anomaly_references(config)
    problems += _zoo_references(config)
    problems += _archive_problems(config)
    if problems:
        raise ConfigError("\n".join(problems))


def _analysis_references(config: dict) -> list[str]:
    analysis, test_sets = config.get("analysis", {}), config.get("test_sets", {})
    problems = []
    comparisons = analysis.get("comparisons", {})
    for name, comparison in comparisons.items():
        for key, value in [("real", comparison["real"])] + [("proxies", p) for p in comparison["proxies"]]:
            if value not in test_sets:
                problems.append(f"config key 'analysis.comparisons.{name}.{key}': no test set named {value!r}; "
                                f"test sets are: {', '.join(sorted(test_sets))}")
    robust = analysis.get("robust_models", {}).get("comparison")
    if comparisons and robust is not None and robust not in comparisons:
        problems.append(f"config key 'analysis.robust_models.comparison': no comparison named {robust!r}; "
                        f"comparisons are: {', '.join(sorted(comparisons))}")
    model = analysis.get("confidence_maps", {}).get("model")
    if model and model not in config.get("models", {}):
        problems.append(f"config key 'analysis.confidence_maps.model': no model named {model!r}")
    return problems


# ---- OOD-object inpainting

#: generation.anomalies: which inpainted set each added dataset / test set holds
ANOMALY_SETS = {"all": "synthetic_anomalies", "curated": "synthetic_anomalies_curated",
                "control": "synthetic_anomalies_control"}


def add_anomaly_test_sets(config: dict) -> None:
    """An enabled generation.anomalies adds SMIYC-format datasets and test sets (unless the config
    already names them): every detected sample, the curated ones (only with a curated list) and
    the control object, so each is evaluated and can be a proxy."""
    anomalies = config.get("generation", {}).get("anomalies", {})
    if not anomalies.get("enabled"):
        return
    for kind, name in ANOMALY_SETS.items():
        if kind == "curated" and not anomalies.get("curated"):
            continue
        config.setdefault("datasets", {}).setdefault(name, {"format": "smiyc", "source": "generated",
                                                            "anomalies": kind})
        config.setdefault("test_sets", {}).setdefault(name, {"dataset": name, "split": "validation", "subset": "*"})


def _anomaly_references(config: dict) -> list[str]:
    generation = config.get("generation", {})
    anomalies = generation.get("anomalies", {})
    problems = []
    for name, dataset in config.get("datasets", {}).items():
        kind = dataset.get("anomalies")
        if kind is None:
            continue
        where = f"config key 'datasets.{name}.anomalies'"
        if not anomalies.get("enabled"):
            problems.append(f"{where}: generation.anomalies.enabled is false; enable it or remove the dataset")
        elif kind == "curated" and not anomalies.get("curated"):
            problems.append(f"{where}: a curated set needs sample ids in generation.anomalies.curated")
        if dataset.get("format") != "smiyc" or dataset.get("source") != "generated":
            problems.append(f"{where}: an inpainted set has format smiyc and source generated")
    if not anomalies.get("enabled"):
        return problems
    sets = generation.get("captions", {}).get("sets", {})
    if anomalies["source_set"] not in sets:
        problems.append(f"config key 'generation.anomalies.source_set': no caption set named "
                        f"{anomalies['source_set']!r}; generation.captions.sets are: "
                        f"{', '.join(sorted(sets)) or 'none'}")
    if anomalies["curated"]:
        from .inpainting import anomaly_items, sample_id  # the ids are known before anything is generated

        objects = anomalies["objects"]
        ids = {name for name, _, _ in anomaly_items(objects, [None], anomalies["images"])}
        unknown = [name for name in anomalies["curated"] if name not in ids]
        if unknown:
            problems.append(f"config key 'generation.anomalies.curated': {', '.join(unknown[:5])}"
                            f"{' ...' if len(unknown) > 5 else ''} are not sample ids of the objects set "
                            f"(ids are <index>_<object>, e.g. {sample_id(0, objects[0])}; "
                            f"see resources/datasets/synthetic_anomalies/samples.csv)")
    return problems


def _zoo_references(config: dict) -> list[str]:
    """Zoo model names that mmseg's metafiles do not list (with the close ones)."""
    zoo_models = {name: model["zoo"] for name, model in config.get("models", {}).items()
                  if model.get("source") == "zoo"}
    if not zoo_models:
        return []
    from .zoo import resolve

    problems = []
    for name, zoo_name in zoo_models.items():
        try:
            resolve(zoo_name)
        except KeyError as error:
            problems.append(f"config key 'models.{name}.zoo': {error.args[0]}")
    return problems


def _archive_problems(config: dict) -> list[str]:
    """Real datasets: a download the publisher does not offer, credentials in a URL, pins for
    archives that are not fetched. (Missing files are the fetch job's error, so that a dry run
    works before the archives are there.)"""
    from urllib.parse import urlsplit

    from .acquisition import is_url, package_names, source

    problems = []
    for name, dataset in config.get("datasets", {}).items():
        where = f"config key 'datasets.{name}"
        kind = dataset.get("source")
        if kind not in ("download", "archives"):
            continue
        src = source(dataset["format"])
        if kind == "download" and src.protocol == "none":
            problems.append(f"{where}.source': {dataset['format']} cannot be downloaded by script; get "
                            f"{', '.join(package_names(dataset['format']))} at {src.registration} and set "
                            f"source: archives with archives: {{<file name>: <path or URL>}}")
        if kind == "download" and "archives" in dataset:
            problems.append(f"{where}.archives': only read with source: archives")
        for archive, location in dataset.get("archives", {}).items():
            parts = urlsplit(location)
            if is_url(location) and (parts.query or parts.fragment):
                problems.append(f"{where}.archives.{archive}': a URL with a query string usually carries a "
                                "personal token, which would be kept in Snakemake's metadata and the report; "
                                "download the file and give its path instead")
            if parts.username or parts.password:
                problems.append(f"{where}.archives.{archive}': credentials do not belong in a URL (the config "
                                f"is logged and shown in the report); use {name.upper()}_USERNAME / "
                                f"{name.upper()}_PASSWORD or ~/.netrc")
            if "/" in archive:
                problems.append(f"{where}.archives.{archive}': the key is the archive's file name, not a path")
        fetched = dataset.get("archives", {}) if kind == "archives" else package_names(dataset["format"])
        for archive in dataset.get("checksums", {}):
            if archive not in fetched:
                problems.append(f"{where}.checksums.{archive}': not one of this dataset's archives "
                                f"({', '.join(fetched)})")
    return problems
