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
GENERATED_DATASETS = [
    name
    for name, dataset in config["datasets"].items()
    if dataset["source"] == "generated" and "anomalies" not in dataset
]
DEMO_MODELS = [
    name for name, model in config["models"].items() if model["source"] == "demo"
]
# Real datasets obtained by the data stage (downloaded, or from archives on disk)
REAL_DATASETS = [
    name
    for name, dataset in config["datasets"].items()
    if dataset["source"] in ("download", "archives")
]
ZOO_MODELS = [
    name for name, model in config["models"].items() if model["source"] == "zoo"
]


def dataset_root(name):
    """Folder of a dataset: generated under resources/ for the demo, given for local copies."""
    dataset = config["datasets"][name]
    if dataset["source"] == "local":
        return dataset["path"]
    return f"resources/datasets/{name}"


def dataset_archives(name):
    """The verified archives a real dataset is prepared from (resources/archives/<name>/)."""
    from segrel.acquisition import package_names

    dataset = config["datasets"][name]
    if dataset["source"] == "archives":
        archives = list(dataset["archives"])
    else:
        archives = package_names(dataset["format"])
    return [f"resources/archives/{name}/{archive}" for archive in archives]


def archive_location(dataset, archive):
    """Where an archive is taken from: a path or URL in the config, or None (the publisher)."""
    if dataset["source"] != "archives":
        return None
    return dataset["archives"][archive]


def archive_request(wildcards):
    """What the fetch_dataset_archive job needs to obtain one archive (no credentials: those are
    read from the environment or ~/.netrc by the job itself)."""
    dataset = config["datasets"][wildcards.dataset]
    return {
        "format": dataset["format"],
        "name": wildcards.archive,
        "location": archive_location(dataset, wildcards.archive),
        "mirror": dataset.get("mirror"),
        "checksum": dataset["checksums"].get(wildcards.archive),
        "credential_prefix": wildcards.dataset.upper(),
    }


def archives_replaceable(wildcards):
    """Per archive: whether a corrupt copy may be deleted and fetched again (segrel downloaded
    it and no checksum vouched for it; see segrel.acquisition.replaceable)."""
    from segrel.acquisition import replaceable

    dataset = config["datasets"][wildcards.dataset]
    return [
        replaceable(
            dataset["format"],
            Path(path).name,
            dataset["checksums"].get(Path(path).name),
            archive_location(dataset, Path(path).name),
        )
        for path in dataset_archives(wildcards.dataset)
    ]


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
    return (
        [dataset_root(name) for name in config["datasets"]]
        + ["results/tables/metrics.csv"]
        + analysis_outputs()
        # the generate stage's own outputs, once domains are generated
        + (
            generation_outputs()
            if config["generation"]["domains"]
            or config["generation"]["anomalies"]["enabled"]
            else []
        )
    )


def model_files(model):
    """(config, checkpoint) of a model, as the models stage writes them."""
    return {
        "config": f"resources/models/{model}/{model}.py",
        "checkpoint": f"resources/models/{model}/{model}.pth",
    }


def zoo_model(wildcards):
    """A zoo model's metafile entry (resolved once the config is validated), as a param."""
    from dataclasses import asdict

    from segrel.zoo import resolve

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


def test_set_spec(name):
    test_set = config["test_sets"][name]
    return {
        "format": config["datasets"][test_set["dataset"]]["format"],
        "split": test_set["split"],
        "subset": test_set["subset"],
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


RELIABILITY_FIGURES = [
    "shift_degradation",
    "ece_vs_error",
    "ood_detection",
    "misclassification",
]


def model_families():
    """{model: architecture family}: one marker per family in every figure."""
    return {name: model["family"] for name, model in config["models"].items()}


def sample_size_comparisons():
    """Comparisons whose PCC is traced against the number of proxy images."""
    return {
        name: comparison
        for name, comparison in config["analysis"]["comparisons"].items()
        if comparison["sample_size"] and "miou" in comparison["metrics"]
    }


def sample_size_shards():
    """{(model, proxy test set): [shard files]} of the proxies of sample_size_comparisons()."""
    proxies = {
        proxy
        for comparison in sample_size_comparisons().values()
        for proxy in comparison["proxies"]
    }
    return {
        key: paths for key, paths in evaluation_shards().items() if key[1] in proxies
    }


def confidence_map_model():
    return config["analysis"]["confidence_maps"]["model"] or next(
        iter(config["models"])
    )


def analysis_outputs():
    """Every table and figure of the analyse stage (only those the config can feed)."""
    analysis = config["analysis"]
    comparisons = analysis["comparisons"]
    outputs = [
        f"results/figures/reliability/{figure}.png" for figure in RELIABILITY_FIGURES
    ]
    if config["models"]:
        outputs.append(f"results/figures/confidence_maps/{confidence_map_model()}.png")
    if comparisons:
        outputs.append("results/tables/correlations.csv")
        outputs += [f"results/figures/correlation/{name}.png" for name in comparisons]
    robust = analysis["robust_models"]["comparison"]
    if robust in comparisons:
        outputs.append(f"results/figures/robust_models/{robust}.png")
    if sample_size_comparisons():
        outputs.append("results/figures/sample_size.png")
    if ANOMALY_DATASETS and config["models"]:
        outputs.append("results/figures/inpainting_control.png")
    return outputs


DEMO_GENERATORS = [
    name
    for name, model in config["generation"]["models"].items()
    if model["source"] == "demo"
]


# the demo pre-trains these (segrel.pretraining); the detector and SAM stay as initialised
PRETRAINED_DEMO_GENERATORS = [
    name
    for name in DEMO_GENERATORS
    if name in ("stable_diffusion", "inpainting", "captioner")
]


def generator_model(name):
    """What from_pretrained() gets for a generator: a directory, or a Hugging Face id."""
    model = config["generation"]["models"][name]
    return {
        "demo": (
            f"resources/generators/{name}"
            if name in PRETRAINED_DEMO_GENERATORS
            else f"resources/generators/initial/{name}"
        ),
        "local": model.get("path"),
        "hub": model.get("id"),
    }[model["source"]]


def generator_files(name):
    """The generator as an input file (none for a hub id, which the Hugging Face cache holds)."""
    model = config["generation"]["models"][name]
    return {} if model["source"] == "hub" else {name: generator_model(name)}


def caption_set(name):
    """{format, root, split} of a configured caption set."""
    sets = config["generation"]["captions"]["sets"]
    if name not in sets:
        raise ValueError(
            f"generation.captions.sets has no set named {name!r} (sets: {', '.join(sets) or 'none'}): "
            "add it, e.g. {name}: {dataset: cityscapes, split: train}"
        )
    spec = sets[name]
    return {
        "format": config["datasets"][spec["dataset"]]["format"],
        "dataset": spec["dataset"],
        "root": dataset_root(spec["dataset"]),
        "split": spec["split"],
    }


def generation_outputs():
    outputs = [
        f"results/generate/captions/{name}.csv"
        for name in config["generation"]["captions"]["sets"]
    ]
    sets = config["generation"]["captions"]["sets"]
    controlnet = config["generation"]["controlnet"]
    if (
        controlnet["train_set"] in sets
        and controlnet["validation"]["caption_set"] in sets
    ):
        outputs.append("results/figures/generate/controlnet_validation.png")
    outputs += [dataset_root(name) for name in GENERATED_DATASETS]
    if GENERATED_DATASETS:
        outputs.append("results/figures/generate/domains.png")
    return outputs + anomaly_outputs()


def domain_shards(domain):
    """The shard folders of one generated domain."""
    shards = config["generation"]["domain_generation"]["shards"]
    return [
        f"resources/synthetic/{domain}/shard-{shard}-of-{shards}"
        for shard in range(shards)
    ]


# ---- OOD-object inpainting

ANOMALY_DATASETS = [
    name for name, dataset in config["datasets"].items() if "anomalies" in dataset
]


def anomaly_shards(anomaly_set):
    """The shard folders of the inpainted 'objects' or 'control' set."""
    shards = config["generation"]["anomalies"]["shards"]
    return [
        f"resources/synthetic_anomalies/{anomaly_set}/shard-{shard}-of-{shards}"
        for shard in range(shards)
    ]


def anomaly_test_sets():
    """{label: test set} of the inpainted sets, objects first and the control last."""
    kinds = {"all": "OOD objects", "curated": "OOD objects (curated)"}
    kinds["control"] = f"control: {config['generation']['anomalies']['control']}"
    found = {}
    for kind, label in kinds.items():
        for name, spec in config["test_sets"].items():
            if config["datasets"][spec["dataset"]].get("anomalies") == kind:
                found[label if label not in found else f"{label} ({name})"] = name
    return found


def anomaly_outputs():
    """The inpainted datasets, the detection table and the sample grid, when enabled."""
    if not config["generation"]["anomalies"]["enabled"]:
        return []
    outputs = [dataset_root(name) for name in ANOMALY_DATASETS]
    outputs.append("results/tables/generate/inpainting_detections.csv")
    if any(config["datasets"][name]["anomalies"] == "all" for name in ANOMALY_DATASETS):
        outputs.append("results/figures/generate/inpainting_samples.png")
    return outputs
