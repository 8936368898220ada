"""The models stage's config cross-checks (what the schema cannot say)."""

from __future__ import annotations


def add_zoo_selection(config: dict) -> list[str]:
    """Add the models ``zoo.select`` picks from mmseg's metafiles to ``config["models"]`` (named by
    their zoo names; a model the config already names keeps its entry) and return their names."""
    selection = config.get("zoo", {}).get("select")
    if not selection:
        return []
    from segrel.models.zoo import config_name, select

    configured = {model.get("zoo") for model in config["models"].values()}
    added = []
    for model in select(selection["dataset"], selection["min_miou"], selection["per_family"]):
        name = config_name(model.name)
        if model.name in configured or name in config["models"]:
            continue
        config["models"][name] = {"family": model.family, "source": "zoo", "zoo": model.name}
        added.append(name)
    return added


def config_problems(config: dict) -> list[str]:
    """The training set exists and is in Cityscapes format; zoo names are in mmseg's metafiles."""
    datasets = config.get("datasets", {})
    problems = []
    train = config.get("model_training", {}).get("train_dataset")
    if config.get("models") and train is not None:
        if train not in datasets:
            problems.append(f"config key 'model_training.train_dataset': no dataset named {train!r}")
        elif datasets[train]["format"] != "cityscapes":
            problems.append(f"config key 'model_training.train_dataset': {train!r} must have format cityscapes")
    own = config.get("outlier_training", {}).get("models", {})
    own_problems = [problem.replace("config key 'models.", "config key 'outlier_training.models.")
                    for problem in _model_problems({**config, "models": own})]
    return problems + _model_problems(config) + own_problems + _outlier_training_problems(config)


def _model_problems(config: dict) -> list[str]:
    return (_zoo_references(config) + _url_problems(config) + _snapshot_problems(config) + _source_problems(config)
            + _base_problems(config))


def _outlier_training_problems(config: dict) -> list[str]:
    """The fine-tuned model, its object sources, test sets and training set exist and fit."""
    outliers = config.get("outlier_training", {})
    own, study, datasets = outliers.get("models", {}), config.get("models", {}), config.get("datasets", {})
    where = "config key 'outlier_training"
    problems = [f"{where}.models.{name}': a model of that name is in `models` already; rename one"
                for name in own if name in study]
    if not outliers.get("model"):
        return problems
    if outliers["model"] not in {**study, **own}:
        problems.append(f"{where}.model': no model named {outliers['model']!r} in models or outlier_training.models")
    if not outliers["objects"]:
        problems.append(f"{where}.objects': name at least one source of pasted objects")
    problems += [f"{where}.objects.{name}.dataset': {problem}" for name, spec in outliers["objects"].items()
                 for problem in _object_source_problems(spec, datasets)]
    unknown = [name for name in outliers["test_sets"] if name not in config.get("test_sets", {})]
    if unknown or not outliers["test_sets"]:
        problems.append(f"{where}.test_sets': {'unknown test sets ' + ', '.join(unknown) if unknown else 'none'}; "
                        "name test sets of `test_sets` (e.g. the real anomaly set)")
    train = datasets.get(outliers["train_dataset"])
    if train is None or train["format"] != "cityscapes":
        problems.append(f"{where}.train_dataset': {outliers['train_dataset']!r} is no cityscapes-format dataset")
    return problems


def _object_source_problems(spec: dict, datasets: dict) -> list[str]:
    """What is wrong with the dataset of an outlier_training.objects entry."""
    from segrel.core.formats import dataset_format

    if spec["source"] == "demo":
        return []
    dataset = datasets.get(spec["dataset"])
    if dataset is None:
        return [f"no dataset named {spec['dataset']!r}"]
    if spec["source"] == "coco" and dataset["format"] != "coco":
        return [f"{spec['dataset']!r} has format {dataset['format']}; source coco cuts objects from a coco-format "
                "dataset"]
    if spec["source"] == "dataset" and dataset_format(dataset["format"]).kind != "anomaly":
        return [f"{spec['dataset']!r} is not an anomaly dataset (its objects are its anomaly pixels), e.g. "
                "synthetic_anomalies"]
    return []


def _base_problems(config: dict) -> list[str]:
    """A demo model's `base` is a config mmseg ships, and each of its `overrides` names a key of
    that config (a misspelt one would reach the model's constructor as an unknown argument)."""
    problems = []
    for name, model in config.get("models", {}).items():
        if model.get("source", "demo") != "demo" or not model.get("base"):
            continue
        from segrel.models.segmentors import mmseg_config_dir  # imports torch: only with a demo model (2 s)

        path = mmseg_config_dir() / model["base"]
        if not path.is_file():
            problems.append(f"config key 'models.{name}.base': mmseg ships no config {model['base']!r} (under "
                            f"{mmseg_config_dir()})")
        elif model.get("overrides"):
            problems += [f"config key 'models.{name}.overrides': {problem}"
                         for problem in override_problems(path, model["overrides"])]
    return problems


def override_problems(path, overrides: dict) -> list[str]:
    """Dotted keys of ``overrides`` that the mmengine config at ``path`` does not have, each with
    the keys it has there (and the closest one)."""
    import difflib

    from mmengine.config import Config

    cfg = Config.fromfile(str(path)).to_dict()
    problems = []
    for dotted in overrides:
        node, walked = cfg, []
        for part in dotted.split("."):
            keys = _child_keys(node)
            if part not in keys:
                close = difflib.get_close_matches(part, keys, n=1)
                problems.append(f"{dotted!r}: {'.'.join(walked) or 'the config'} has no key {part!r}"
                                f"{f' (did you mean {close[0]!r}?)' if close else ''}; its keys: {', '.join(keys)}")
                break
            node = node[part] if isinstance(node, dict) else node[int(part)]
            walked.append(part)
    return problems


def _url_problems(config: dict) -> list[str]:
    """No account or token in the zoo mirror or a url model's checkpoint URL."""
    from segrel.data.download import account_fix, url_secret_problems
    from segrel.models.zoo import MIRROR_ACCOUNT_PREFIX

    mirror = config.get("zoo", {}).get("mirror")
    problems = url_secret_problems("zoo.mirror", mirror, account_fix(MIRROR_ACCOUNT_PREFIX)) if mirror else []
    for name, model in config.get("models", {}).items():
        if model.get("source") == "url":
            problems += url_secret_problems(f"models.{name}.checkpoint", model.get("checkpoint", ""),
                                            "download the checkpoint and use source: local")
    return problems


#: the keys each model source reads (besides family and source); another source's key is a mistake
def _source_keys() -> dict[str, set[str]]:
    from segrel.models.external import KEYS, SOURCES

    return {"demo": {"base", "overrides", "training", "snapshot_of"}, "zoo": {"zoo"},
            **{source: set(KEYS) - {"source"} for source in SOURCES}}


def _source_problems(config: dict) -> list[str]:
    """Keys of another source (e.g. `base` on a url model, which would silently be ignored), and
    a url / local model's files."""
    from segrel.models.external import SOURCES, from_config
    from segrel.models.external import config_problems as external_problems

    source_keys = _source_keys()
    problems = []
    for name, model in config.get("models", {}).items():
        source = model.get("source", "demo")
        foreign = sorted(key for key in set().union(*source_keys.values()) - source_keys[source] if model.get(key))
        if foreign:
            problems.append(f"config key 'models.{name}': source {source} does not read {', '.join(foreign)}; "
                            "remove it, or set the source that does")
        if source in SOURCES:
            problems += external_problems(name, from_config(model))
    return problems


def _snapshot_problems(config: dict) -> list[str]:
    """A snapshot model is an earlier stop of a demo model's own run: nothing else of its own."""
    models = config.get("models", {})
    default_iterations = config.get("model_training", {}).get("iterations")
    problems = []
    for name, model in models.items():
        parent_name = model.get("snapshot_of")
        if parent_name is None:
            continue
        key = f"config key 'models.{name}.snapshot_of'"
        parent = models.get(parent_name)
        if parent is None or parent.get("source") != "demo" or "snapshot_of" in parent:
            problems.append(f"{key}: {parent_name!r} is not a demo model with a training run of its own")
            continue
        own = [field for field in ("base", "zoo", "overrides") if model.get(field)]
        own += [f"training.{field}" for field in model.get("training", {}) if field != "iterations"]
        if own or model.get("source") != "demo":
            problems.append(f"{key}: a snapshot takes everything but training.iterations from {parent_name!r}; "
                            f"remove {', '.join(own) or 'source: zoo'}")
        run = parent.get("training", {}).get("iterations", default_iterations)
        if run is not None and model.get("training", {}).get("iterations", 0) >= run:
            problems.append(f"{key}: training.iterations must be fewer than the {run} of {parent_name!r}'s run")
    return problems


def _zoo_references(config: dict) -> list[str]:
    """Zoo model names that mmseg's metafiles do not list (with the close ones)."""
    zoo_models = {name: model["zoo"] for name, model in config.get("models", {}).items()
                  if model.get("source") == "zoo"}
    if not zoo_models:
        return []
    from segrel.models.zoo import resolve

    problems = []
    for name, zoo_name in zoo_models.items():
        try:
            resolve(zoo_name)
        except KeyError as error:
            problems.append(f"config key 'models.{name}.zoo': {error.args[0]}")
    return problems


def _child_keys(node) -> list[str]:
    """The keys below a config node: a dict's, a list's indices (mmengine's merge_from_dict
    reads ``a.0.b``), none below a value."""
    if isinstance(node, dict):
        return list(node)
    return [str(index) for index in range(len(node))] if isinstance(node, list) else []
