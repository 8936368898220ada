# Helper functions and constants of stage "generate", used by ../generate*.smk.
from segrel.generate.demo import PRETRAINED

CONTROLNET = config["generation"]["controlnet"]
# what shapes a ControlNet's training (segrel.generate.controlnet.ControlNetSettings): every
# generator's, the default one and those of generation.ablation alike
CONTROLNET_TRAINING = {
    key: value
    for key, value in CONTROLNET.items()
    if key not in ("validation", "train_set")
}
# the ablation generators' ControlNets: the same, but for generation.ablation_training's changes
ABLATION_CONTROLNET_TRAINING = {
    **CONTROLNET_TRAINING,
    **config["generation"]["ablation_training"],
}
DOMAIN_GENERATION = config["generation"]["domain_generation"]
DEMO_PRETRAINING = config["generation"]["demo_pretraining"]
RARE_DOMAINS = config["analysis"]["rare_domains"]
# {domain: prompt text} of every domain generated: the test sets' and Fig. 7's rare ones
DOMAIN_TEXTS = {**config["generation"]["domains"], **RARE_DOMAINS["domains"]}


def domain_generation_settings(domain):
    """generation.domain_generation, with a rare domain's image count and one shard."""
    if domain in RARE_DOMAINS["domains"]:
        return {**DOMAIN_GENERATION, "images": RARE_DOMAINS["images"], "shards": 1}
    return DOMAIN_GENERATION


DEMO_GENERATORS = [
    name
    for name, model in config["generation"]["models"].items()
    if model["source"] == "demo"
]


# the demo pre-trains these (segrel.generate.demo.pretraining); the detector and SAM stay as initialised
PRETRAINED_DEMO_GENERATORS = [name for name in DEMO_GENERATORS if name in PRETRAINED]


def demo_generator_path(name):
    """Where the demo builds a generator (pre-trained, or as initialised)."""
    if name in PRETRAINED_DEMO_GENERATORS:
        return f"resources/generators/{name}"
    return f"resources/generators/initial/{name}"


def generator_model(name):
    """What from_pretrained() gets for a generator: a directory, or a Hugging Face id."""
    return pretrained_model(
        config["generation"]["models"][name], demo_generator_path(name)
    )


def generator_files(name):
    """The generator as an input file (none for a hub id, which the Hugging Face cache holds)."""
    model = config["generation"]["models"][name]
    return pretrained_files(name, model, demo_generator_path(name))


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
    outputs += [dataset_root(name) for name in GENERATED_DATASETS + REFERENCE_DATASETS]
    if GENERATED_DATASETS:
        outputs.append("results/figures/generate/domains.png")
    return outputs + anomaly_outputs()


GENERATED_DATASETS = [
    name
    for name, dataset in config["datasets"].items()
    if dataset["source"] == "generated"
    and "anomalies" not in dataset
    and not dataset.get("reference")
    and "stress" not in dataset
]
# the real source images cut as generation cuts their maps (label-map fidelity's reference)
REFERENCE_DATASETS = [
    name for name, dataset in config["datasets"].items() if dataset.get("reference")
]


def domain_shards(domain, generator=None):
    """The shard folders of one generated domain (a rare domain has one), by the default
    generator or by a generation.ablation one."""
    shards = domain_generation_settings(domain)["shards"]
    folder = f"synthetic_{generator}" if generator else "synthetic"
    return [
        f"resources/{folder}/{domain}/shard-{shard}-of-{shards}"
        for shard in range(shards)
    ]


# generation.ablation: {label: generation.models entry} of the other generators (Table 1)
ABLATION = config["generation"]["ablation"]


def generated_label(name):
    """A generated dataset's domain, and its generator for a generation.ablation one: "fog",
    "fog (sdxl)"."""
    dataset = config["datasets"][name]
    generator = dataset.get("generator")
    return f"{dataset['domain']} ({generator})" if generator else dataset["domain"]


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


def anomaly_outputs():
    """The inpainted datasets, the detection table, the curation page and the sample grid, when
    enabled."""
    if not config["generation"]["anomalies"]["enabled"]:
        return []
    outputs = [dataset_root(name) for name in ANOMALY_DATASETS]
    outputs += [
        "results/tables/generate/inpainting_detections.csv",
        "results/curation/index.html",
    ]
    if any(config["datasets"][name]["anomalies"] == "all" for name in ANOMALY_DATASETS):
        outputs.append("results/figures/generate/inpainting_samples.png")
    return outputs


ANOMALIES = config["generation"]["anomalies"]
# the models that find the painted object; none when the repainted square is the mask
ANOMALY_DETECTION = (
    ["detector", "segmenter"] if ANOMALIES["object_mask"] == "detected" else []
)
# what shapes one sample (segrel.generate.inpainting.InpaintingSettings): editing `curated`
# (or `enabled`) regenerates nothing
ANOMALY_SAMPLE_SETTINGS = {
    key: ANOMALIES[key]
    for key in (
        "steps",
        "guidance",
        "resolution",
        "refinement_strength",
        "refinement_steps",
        "refinement_guidance",
        "box_threshold",
        "text_threshold",
        "object_mask",
    )
}
