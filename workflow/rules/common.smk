import sys
from pathlib import Path

# The segrel library lives beside the rule scripts; make it importable here too.
LIBRARY = Path(workflow.basedir) / "workflow" / "scripts" / "segrel"
sys.path.insert(0, str(LIBRARY.parent))

from segrel.config import validate_config

validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

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


def library_code(*modules):
    """Source files of segrel modules a rule depends on (Snakemake tracks only the script itself)."""
    return [str(LIBRARY / f"{module}.py") for module in modules]


def get_final_output():
    return [dataset_root(name) for name in config["datasets"]]
