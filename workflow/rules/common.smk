# What every stage uses: the validated config, where datasets and models live, and the library
# code each rule script imports. Each stage's own helpers live in functions/<stage>.smk.
from pathlib import Path

# The segrel library lives beside the rule scripts (the Snakefile puts it on the path).
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"

from segrel.config import validate_config
from segrel.core.imports import import_closure

validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")


def library_code(script):
    """The segrel source files rule script ``script`` imports, directly or through other segrel
    modules (static import closure, segrel.core.imports): a change to any of them re-runs the
    rule's jobs, and a change elsewhere does not. Snakemake itself tracks only the script.
    """
    return import_closure(SCRIPTS / script, SCRIPTS)


def dataset_root(name):
    """Folder of a dataset: generated under resources/ for the demo, given for local copies."""
    dataset = config["datasets"][name]
    if dataset["source"] == "local":
        return dataset["path"]
    return f"resources/datasets/{name}"


def dataset_input(name):
    """The input of the jobs that read dataset ``name``: its folder, which a rule makes;
    for a local copy, its listing (rule local_dataset_manifest), which changes whenever a file
    of the copy does, so that exactly the jobs reading it re-run (Snakemake would not look
    inside a folder it did not make)."""
    if config["datasets"][name]["source"] == "local":
        return f"results/manifests/{name}.tsv"
    return dataset_root(name)


def pretrained_model(spec, demo_path):
    """What from_pretrained() gets for a Hugging Face model of the config ({source: demo, local or
    hub}): the demo's directory, the local one, or the hub id."""
    return {"demo": demo_path, "local": spec.get("path"), "hub": spec.get("id")}[
        spec["source"]
    ]


def pretrained_files(key, spec, demo_path):
    """{key: its directory} as a rule input; none for a hub id (the Hugging Face cache holds it)."""
    if spec["source"] == "hub":
        return {}
    return {key: pretrained_model(spec, demo_path)}


def model_files(model):
    """(config, checkpoint) of a model, as the models stage writes them; a local model's
    checkpoint stays where it is."""
    spec = MODEL_SPECS[model]
    local = spec["source"] == "local"
    return {
        "config": f"resources/models/{model}/{model}.py",
        "checkpoint": (
            spec["checkpoint"] if local else f"resources/models/{model}/{model}.pth"
        ),
    }


def get_final_output():
    """Every dataset, the metrics table, every figure and table of the analyse, calibrate,
    stress and detect stages, and the generate stage's own outputs once domains or inpainted objects are
    configured.
    """
    return (
        [dataset_input(name) for name in config["datasets"]]
        + ["results/tables/metrics.csv"]
        + analysis_outputs()
        + calibration_outputs()
        + stress_outputs()
        + detect_outputs()
        + outlier_outputs()
        + (
            generation_outputs()
            if config["generation"]["domains"]
            or config["generation"]["anomalies"]["enabled"]
            else []
        )
    )
