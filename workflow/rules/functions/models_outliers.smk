# Helper functions and constants of outlier training (stage "models"), used by ../models_outliers.smk.

OUTLIERS = config["outlier_training"]
# {fine-tuned model name: its objects entry}; none without outlier_training.model
OUTLIER_MODELS = (
    {f"{OUTLIERS['model']}-rba-{name}": name for name in OUTLIERS["objects"]}
    if OUTLIERS["model"]
    else {}
)
OUTLIER_MODEL = "resources/models/outliers/{model}/{model}"
# the models of Table 2: the base model, then each fine-tuned one
TABLE_2_MODELS = [OUTLIERS["model"], *OUTLIER_MODELS] if OUTLIER_MODELS else []


def outlier_objects_input(wildcards):
    """The dataset an objects entry cuts its objects from (none for the demo's)."""
    spec = OUTLIERS["objects"][wildcards.objects]
    return [dataset_input(spec["dataset"])] if spec["source"] != "demo" else []


def outlier_objects_source(wildcards):
    """An objects entry with what its source needs to read: the dataset's layout, or the
    demo's seed and image size."""
    spec = dict(OUTLIERS["objects"][wildcards.objects])
    if spec["source"] == "dataset":
        spec["layout"] = whole_dataset(spec["dataset"])
    elif spec["source"] == "coco":
        spec["root"] = dataset_root(spec["dataset"])
    else:
        spec.update(
            seed=config["demo"]["seed"],
            height=config["demo"]["height"],
            width=config["demo"]["width"],
        )
    return spec


def whole_dataset(dataset):
    """{format, root, split, subset} of every image of a dataset's (first) split."""
    from segrel.core.formats import dataset_format

    layout = dataset_format(config["datasets"][dataset]["format"]).layout
    return {
        "format": config["datasets"][dataset]["format"],
        "root": dataset_root(dataset),
        "split": layout.splits[0],
        "subset": "*",
    }


def outlier_models_evaluated_by(jobs):
    """Wildcard regex of the models the outlier evaluation rule cut as ``jobs`` evaluates (as
    models_evaluated_by says for the study): the fine-tuned ones, and the base model when the
    study does not evaluate it."""
    if config["evaluation"]["jobs"] != jobs:
        return "^$"
    own = [model for model in TABLE_2_MODELS if model not in config["models"]]
    return "|".join(map(re.escape, own)) or "^$"


def outlier_model_files(model):
    """(config, checkpoint) of the fine-tuned model, or of outlier_training.model itself."""
    if model not in OUTLIER_MODELS:
        return model_files(model)
    stem = OUTLIER_MODEL.format(model=model)
    return {"config": f"{stem}.py", "checkpoint": f"{stem}.pth"}


def outlier_evaluation_shards():
    """{(model, test set): [shard state files]} of the base model and each fine-tuned one on
    outlier_training.test_sets; the base model's evaluation by the study is reused."""
    shards = config["evaluation"]["shards"]
    files = {}
    for model in TABLE_2_MODELS:
        for test_set in OUTLIERS["test_sets"]:
            folder = (
                "results/evaluation"
                if model in config["models"]
                else "results/outliers/evaluation"
            )
            files[model, test_set] = [
                f"{folder}/{model}/{test_set}/shard-{shard}-of-{shards}.npz"
                for shard in range(shards)
            ]
    return files


def outlier_outputs():
    """Table 2, when outlier training is configured."""
    return ["results/tables/outlier_training.csv"] if OUTLIER_MODELS else []
