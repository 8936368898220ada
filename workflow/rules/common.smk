from snakemake.utils import validate


validate(config, schema="../schemas/config.schema.yaml")

DEMO_DATASETS = [
    name for name, dataset in config["datasets"].items() if dataset["source"] == "demo"
]


def dataset_root(name):
    """Folder of a dataset: generated under resources/ for the demo, given for local copies."""
    dataset = config["datasets"][name]
    if dataset["source"] == "local":
        return dataset["path"]
    return f"resources/datasets/{name}"


def demo_settings(wildcards):
    """The part of config['demo'] that shapes one demo dataset (tracked as a param)."""
    demo = config["demo"]
    fmt = config["datasets"][wildcards.dataset]["format"]
    common = {"seed": demo["seed"], "height": demo["height"], "width": demo["width"]}
    specific = {
        "cityscapes": {"cities": demo["cityscapes"]},
        "acdc": demo["acdc"],
        "idd": demo["idd"],
        "smiyc": demo["smiyc"],
    }[fmt]
    return {**common, **specific}


def get_final_output():
    return [dataset_root(name) for name in config["datasets"]]
