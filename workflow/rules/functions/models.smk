# Helper functions and constants of stage "models", used by ../models.smk.

# every model the models stage makes: the study's, and those only outlier training uses
MODEL_SPECS = {**config["models"], **config["outlier_training"]["models"]}

# demo models trained here, and those that are an earlier stop of one of their runs
DEMO_MODELS = [
    name
    for name, model in MODEL_SPECS.items()
    if model["source"] == "demo" and "snapshot_of" not in model
]
SNAPSHOT_MODELS = [
    name for name, model in MODEL_SPECS.items() if "snapshot_of" in model
]
ZOO_MODELS = [name for name, model in MODEL_SPECS.items() if model["source"] == "zoo"]
# a user's own models: a checkpoint to download, or one on disk (read where it is)
URL_MODELS = [name for name, model in MODEL_SPECS.items() if model["source"] == "url"]
LOCAL_MODELS = [
    name for name, model in MODEL_SPECS.items() if model["source"] == "local"
]


def zoo_model(wildcards):
    """A zoo model's metafile entry (resolved once the config is validated), as a param."""
    from dataclasses import asdict

    from segrel.models.zoo import resolve

    return asdict(resolve(MODEL_SPECS[wildcards.model]["zoo"]))


def external_model(wildcards):
    """A url / local model's config file, checkpoint and checksum, as a param."""
    from dataclasses import asdict

    from segrel.models.external import from_config

    return asdict(from_config(MODEL_SPECS[wildcards.model]))


def external_model_input(wildcards):
    """Its mmseg config file, and (source local) its checkpoint: editing either re-runs it."""
    model = MODEL_SPECS[wildcards.model]
    files = {"config": model["config"]}
    if model["source"] == "local":
        files["checkpoint"] = model["checkpoint"]
    return files


def training_settings(wildcards):
    """Everything that shapes one demo model (tracked as a param: a change retrains it): the
    model_training keys with the model's own values, and the iterations its snapshots keep.
    """
    training = config["model_training"]
    model = MODEL_SPECS[wildcards.model]
    own = {**training, **model["training"]}
    return {
        "base": model["base"],
        "overrides": model["overrides"],
        "image_size": [config["demo"]["height"], config["demo"]["width"]],
        **{
            key: own[key]
            for key in (
                "crop_size",
                "iterations",
                "batch_size",
                "learning_rate",
                "seed",
                "photometric_distortion",
                "resize_ratio",
            )
        },
        "snapshots": sorted(
            {
                other["training"]["iterations"]
                for other in MODEL_SPECS.values()
                if other.get("snapshot_of") == wildcards.model
            }
        ),
    }


def training_priority(wildcards):
    """Longest training first (Snakemake starts ready jobs of higher priority first): the crop
    pixels the run learns on, iterations x batch x crop, in units of 100 steps of 4 crops of
    64x128 (the demo's R18 runs: 2, SegFormer-B0: 48). Without it the demo's SegFormer-B0, a
    quarter of all training, started 23 minutes into a 2-core run and held the evaluation back.
    """
    settings = training_settings(wildcards)
    height, width = settings["crop_size"]
    pixels = settings["iterations"] * settings["batch_size"] * height * width
    return pixels // (100 * 4 * 64 * 128)


def snapshot_source(wildcards):
    """The training run a snapshot model is an earlier stop of: its kept weights and its config."""
    parent = MODEL_SPECS[wildcards.model]["snapshot_of"]
    return {
        "snapshots": f"resources/models/{parent}/snapshots",
        "config": model_files(parent)["config"],
    }
