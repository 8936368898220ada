"""The models stage's config cross-checks (what the schema cannot say)."""

from __future__ import annotations


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
    return problems + _zoo_references(config)


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


