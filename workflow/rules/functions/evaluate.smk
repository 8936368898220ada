# Helper functions and constants of stage "evaluate", used by ../evaluate.smk.
import re


def test_set_spec(name):
    """{format, split, subset, unknown_ids, attack} of a configured test set."""
    test_set = config["test_sets"][name]
    dataset = config["datasets"][test_set["dataset"]]
    return {
        "format": dataset["format"],
        "split": test_set["split"],
        "subset": test_set["subset"],
        "unknown_ids": dataset["unknown_ids"],
        "attack": test_set.get("attack"),  # made per model in the evaluation job
    }


# what shapes the shard states (segrel.evaluate.evaluation.EvaluationState records them)
EVALUATION_SETTINGS = {
    key: config["evaluation"][key]
    for key in ("batch_size", "calibration_pixels", "seed", "device", "ablations")
}


def models_evaluated_by(jobs):
    """Wildcard regex of the models evaluated by jobs cut as ``jobs`` says (per_test_set or
    per_model): every model for the one evaluation.jobs names, none for the other, so that each
    shard file has exactly one producer.
    """
    if config["evaluation"]["jobs"] != jobs:
        return "^$"
    return "|".join(map(re.escape, config["models"])) or "^$"


def evaluated_test_sets(names):
    """{test set: its format, split, subset and dataset folder}, in the order of ``names``."""
    return {
        name: {
            **test_set_spec(name),
            "root": dataset_root(config["test_sets"][name]["dataset"]),
        }
        for name in names
    }


def test_set_inputs():
    """The datasets every configured test set reads (each once; see dataset_input)."""
    return sorted(
        {dataset_input(spec["dataset"]) for spec in config["test_sets"].values()}
    )


def excluded_classes():
    """{test set: class names left out of its mIoU}, where test_sets.<name>.excluded_classes says."""
    return {
        name: spec["excluded_classes"]
        for name, spec in config["test_sets"].items()
        if spec.get("excluded_classes")
    }


def evaluation_shards():
    """{(model, test set): [shard state files]} for every configured pair."""
    shards = config["evaluation"]["shards"]
    return {
        (model, test_set): [
            f"results/evaluation/{model}/{test_set}/shard-{shard}-of-{shards}.npz"
            for shard in range(shards)
        ]
        for model in config["models"]
        for test_set in config["test_sets"]
    }
