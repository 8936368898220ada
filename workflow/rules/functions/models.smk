# Helper functions and constants of stage "models", used by ../models.smk.

DEMO_MODELS = [
    name for name, model in config["models"].items() if model["source"] == "demo"
]
ZOO_MODELS = [
    name for name, model in config["models"].items() if model["source"] == "zoo"
]


def zoo_model(wildcards):
    """A zoo model's metafile entry (resolved once the config is validated), as a param."""
    from dataclasses import asdict

    from segrel.models.zoo import resolve

    return asdict(resolve(config["models"][wildcards.model]["zoo"]))


def training_settings(wildcards):
    """Everything that shapes one demo model (tracked as a param: a change retrains it)."""
    training = config["model_training"]
    model = config["models"][wildcards.model]
    return {
        "base": model["base"],
        "overrides": model["overrides"],
        "image_size": [config["demo"]["height"], config["demo"]["width"]],
        "crop_size": training["crop_size"],
        "iterations": model.get("iterations", training["iterations"]),
        "batch_size": training["batch_size"],
        "learning_rate": training["learning_rate"],
        "seed": training["seed"],
    }
