# Stage "generate" (Loiseau et al. 2024): captions, ControlNet fine-tuning on label maps,
# domain generation and OOD-object inpainting. The demo builds tiny generators offline.

CONTROLNET = config["generation"]["controlnet"]
DEMO_PRETRAINING = config["generation"]["demo_pretraining"]
DOMAIN_GENERATION = config["generation"]["domain_generation"]


rule demo_generator:
    """A tiny randomly initialised generator in the Hugging Face layout (demo only)."""
    input:
        code=library_code("generators", "io"),
    output:
        directory("resources/generators/initial/{generator}"),
    log:
        "results/logs/generate/demo_generator/{generator}.log",
    benchmark:
        "results/benchmarks/generate/demo_generator/{generator}.tsv"
    wildcard_constraints:
        generator="|".join(DEMO_GENERATORS) or "^$",
    priority: 10
    conda:
        "../../envs/generate.yaml"
    params:
        seed=config["generation"]["seed"],
    script:
        "../scripts/build_demo_generator.py"


rule demo_pretraining_set:
    """Captioned procedural scenes in every condition, the demo generators' pre-training data."""
    input:
        code=library_code("pretraining", "scenes", "weather", "demo_data", "io"),
    output:
        directory("resources/generators/pretraining_set"),
    log:
        "results/logs/generate/demo_pretraining_set.log",
    benchmark:
        "results/benchmarks/generate/demo_pretraining_set.tsv"
    # the long serial chain (pre-training, ControlNet, generation) goes before the evaluations
    priority: 10
    conda:
        "../../envs/generate.yaml"
    params:
        seed=DEMO_PRETRAINING["seed"],
        height=CONTROLNET["resolution"],
        width=2 * CONTROLNET["resolution"],
        images=DEMO_PRETRAINING["images_per_condition"],
        conditions=DEMO_PRETRAINING["conditions"],
    script:
        "../scripts/demo_pretraining_set.py"


rule pretrain_demo_generator:
    """Pre-train a tiny generator (demo only: the real ones come pre-trained from the hub)."""
    input:
        initial="resources/generators/initial/{generator}",
        data="resources/generators/pretraining_set",
        # SD inpainting starts from the text-to-image model, as the real one did
        stable_diffusion=lambda wildcards: (
            ["resources/generators/stable_diffusion"]
            if wildcards.generator == "inpainting"
            else []
        ),
        code=library_code("pretraining", "io"),
    output:
        directory("resources/generators/{generator}"),
    log:
        "results/logs/generate/pretrain_demo_generator/{generator}.log",
    benchmark:
        "results/benchmarks/generate/pretrain_demo_generator/{generator}.tsv"
    wildcard_constraints:
        generator="|".join(PRETRAINED_DEMO_GENERATORS) or "^$",
    priority: 10
    conda:
        "../../envs/generate.yaml"
    threads: DEMO_PRETRAINING["threads"]
    params:
        settings={
            **{
                key: DEMO_PRETRAINING[key]
                for key in (
                    "seed",
                    "vae",
                    "stable_diffusion",
                    "inpainting",
                    "captioner",
                )
            },
            "resolution": CONTROLNET["resolution"],
        },
    script:
        "../scripts/pretrain_demo_generator.py"


rule caption_images:
    """One BLIP caption per image of a dataset split."""
    input:
        unpack(lambda wildcards: generator_files("captioner")),
        data=lambda wildcards: dataset_root(
            caption_set(wildcards.caption_set)["dataset"]
        ),
        code=library_code("captions", "datasets"),
    output:
        "results/generate/captions/{caption_set}.csv",
    log:
        "results/logs/generate/caption_images/{caption_set}.log",
    benchmark:
        "results/benchmarks/generate/caption_images/{caption_set}.tsv"
    wildcard_constraints:
        caption_set="|".join(config["generation"]["captions"]["sets"]) or "^$",
    priority: 10
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        dataset=lambda wildcards: caption_set(wildcards.caption_set),
        captioner=generator_model("captioner"),
        max_new_tokens=config["generation"]["captions"]["max_new_tokens"],
        batch_size=config["generation"]["captions"]["batch_size"],
        device=config["generation"]["captions"]["device"],
    script:
        "../scripts/caption_images.py"


rule generate:
    """Target of the generate stage (so far: the captions)."""
    input:
        generation_outputs(),


rule train_controlnet:
    """ControlNet on label maps, initialised from SD's UNet; resumes from its own checkpoints."""
    input:
        unpack(lambda wildcards: generator_files("stable_diffusion")),
        data=lambda wildcards: dataset_root(
            caption_set(CONTROLNET["train_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{CONTROLNET['train_set']}.csv",
        code=library_code("controlnet", "datasets", "io"),
    output:
        directory("resources/controlnet/model"),
    log:
        "results/logs/generate/train_controlnet.log",
    benchmark:
        "results/benchmarks/generate/train_controlnet.tsv"
    priority: 10
    conda:
        "../../envs/generate.yaml"
    threads: config["model_training"]["threads"]
    resources:
        gpu=1,
    params:
        base=generator_model("stable_diffusion"),
        dataset=lambda wildcards: caption_set(CONTROLNET["train_set"]),
        # outside the output folder, which Snakemake clears before a job: a rerun resumes here
        work_dir="resources/controlnet/checkpoints",
        settings={
            key: value for key, value in CONTROLNET.items() if key != "validation"
        },
    script:
        "../scripts/train_controlnet.py"


rule controlnet_validation:
    """Images generated from val label maps and their captions, next to the real ones."""
    input:
        unpack(lambda wildcards: generator_files("stable_diffusion")),
        controlnet="resources/controlnet/model",
        data=dataset_root(
            caption_set(CONTROLNET["validation"]["caption_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{CONTROLNET['validation']['caption_set']}.csv",
        code=library_code("generation", "controlnet", "figures"),
    output:
        png=report(
            "results/figures/generate/controlnet_validation.png",
            caption="../report/controlnet_validation.rst",
            category="Loiseau et al. 2024",
            subcategory="Generation",
            labels={"figure": "ControlNet validation"},
        ),
        pdf="results/figures/generate/controlnet_validation.pdf",
        data="results/tables/figures/generate/controlnet_validation.csv",
    log:
        "results/logs/generate/controlnet_validation.log",
    benchmark:
        "results/benchmarks/generate/controlnet_validation.tsv"
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        base=generator_model("stable_diffusion"),
        dataset=lambda wildcards: caption_set(CONTROLNET["validation"]["caption_set"]),
        resolution=CONTROLNET["resolution"],
        seed=CONTROLNET["seed"],
        validation=CONTROLNET["validation"],
        device=DOMAIN_GENERATION["device"],
    script:
        "../scripts/controlnet_validation.py"


rule generate_domain_shard:
    """One shard of a synthetic domain: images from val label maps, prompted '<caption>, in <domain>'."""
    input:
        unpack(lambda wildcards: generator_files("stable_diffusion")),
        controlnet="resources/controlnet/model",
        data=lambda wildcards: dataset_root(
            caption_set(DOMAIN_GENERATION["source_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{DOMAIN_GENERATION['source_set']}.csv",
        code=library_code("generation", "controlnet", "captions", "datasets", "io"),
    output:
        directory("resources/synthetic/{domain}/shard-{shard}-of-{shards}"),
    log:
        "results/logs/generate/generate_domain_shard/{domain}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/generate/generate_domain_shard/{domain}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        domain="|".join(config["generation"]["domains"]) or "^$",
        shard=r"\d+",
        shards=r"\d+",
    priority: 10
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        base=generator_model("stable_diffusion"),
        dataset=lambda wildcards: caption_set(DOMAIN_GENERATION["source_set"]),
        text=lambda wildcards: config["generation"]["domains"][wildcards.domain],
        resolution=CONTROLNET["resolution"],
        settings=DOMAIN_GENERATION,
    script:
        "../scripts/generate_domain_shard.py"


rule synthetic_dataset:
    """A generated domain as one Cityscapes-layout dataset (the shards put together)."""
    input:
        shards=lambda wildcards: domain_shards(
            config["datasets"][wildcards.dataset]["domain"]
        ),
        code=library_code("generation", "io"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/generate/synthetic_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/generate/synthetic_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(GENERATED_DATASETS) or "^$",
    conda:
        "../../envs/generate.yaml"
    script:
        "../scripts/synthetic_dataset.py"


rule plot_domain_samples:
    """The same label maps in every generated domain (Loiseau et al. Fig. 2/7)."""
    input:
        source=lambda wildcards: dataset_root(
            caption_set(DOMAIN_GENERATION["source_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{DOMAIN_GENERATION['source_set']}.csv",
        domains=[dataset_root(name) for name in GENERATED_DATASETS],
        code=library_code("figures", "generation"),
    output:
        png=report(
            "results/figures/generate/domains.png",
            caption="../report/domains.rst",
            category="Loiseau et al. 2024",
            subcategory="Generation",
            labels={"figure": "Fig. 2/7: generated domains"},
        ),
        pdf="results/figures/generate/domains.pdf",
        data="results/tables/figures/generate/domains.csv",
    log:
        "results/logs/generate/plot_domain_samples.log",
    benchmark:
        "results/benchmarks/generate/plot_domain_samples.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        dataset=lambda wildcards: caption_set(DOMAIN_GENERATION["source_set"]),
        domains={
            name: config["datasets"][name]["domain"] for name in GENERATED_DATASETS
        },
        resolution=CONTROLNET["resolution"],
        images=CONTROLNET["validation"]["images"],
    script:
        "../scripts/plot_domain_samples.py"


# ---- OOD-object inpainting
# Loiseau et al. 2024 / GenVal's ood_objects: objects painted into real images, refined, then
# masked by Grounding DINO + SAM; datasets in SMIYC RoadAnomaly21 layout (evaluated like SMIYC).

ANOMALIES = config["generation"]["anomalies"]
# what shapes the images: editing `curated` (or `enabled`) regenerates nothing
# the models that find the painted object; none when the repainted square is the mask
ANOMALY_DETECTION = (
    ["detector", "segmenter"] if ANOMALIES["object_mask"] == "detected" else []
)
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


rule inpaint_anomaly_shard:
    """One shard of an inpainted set ('objects' or the in-domain 'control'): inpaint, refine, detect."""
    input:
        unpack(
            lambda wildcards: {
                key: path
                for name in ["inpainting", *ANOMALY_DETECTION]
                for key, path in generator_files(name).items()
            }
        ),
        data=lambda wildcards: caption_set(ANOMALIES["source_set"])["root"],
        code=library_code("inpainting", "generation", "datasets", "io", "labels"),
    output:
        directory(
            "resources/synthetic_anomalies/{anomaly_set}/shard-{shard}-of-{shards}"
        ),
    log:
        "results/logs/generate/inpaint_anomaly_shard/{anomaly_set}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/generate/inpaint_anomaly_shard/{anomaly_set}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        anomaly_set="objects|control",
        shard=r"\d+",
        shards=r"\d+",
    priority: 10
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        inpainting=generator_model("inpainting"),
        detector=generator_model("detector") if ANOMALY_DETECTION else None,
        segmenter=generator_model("segmenter") if ANOMALY_DETECTION else None,
        dataset=lambda wildcards: caption_set(ANOMALIES["source_set"]),
        objects=lambda wildcards: (
            ANOMALIES["objects"]
            if wildcards.anomaly_set == "objects"
            else [ANOMALIES["control"]]
        ),
        images=ANOMALIES["images"],
        seed=ANOMALIES["seed"],
        device=ANOMALIES["device"],
        void_square=ANOMALIES["void_square"],
        settings=ANOMALY_SAMPLE_SETTINGS,
    script:
        "../scripts/inpaint_anomaly_shard.py"


rule anomaly_dataset:
    """An inpainted set as one RoadAnomaly21-layout dataset: the detected (or curated) samples, renumbered."""
    input:
        shards=lambda wildcards: anomaly_shards(
            "control"
            if config["datasets"][wildcards.dataset]["anomalies"] == "control"
            else "objects"
        ),
        code=library_code("inpainting", "generation"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/generate/anomaly_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/generate/anomaly_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(ANOMALY_DATASETS) or "^$",
    conda:
        "../../envs/generate.yaml"
    params:
        keep=lambda wildcards: (
            ANOMALIES["curated"]
            if config["datasets"][wildcards.dataset]["anomalies"] == "curated"
            else None
        ),
    script:
        "../scripts/anomaly_dataset.py"


rule inpainting_detections:
    """Per object: samples generated, detected and failed (failed ones are dropped), and curated."""
    input:
        objects=anomaly_shards("objects"),
        control=anomaly_shards("control"),
        code=library_code("inpainting"),
    output:
        report(
            "results/tables/generate/inpainting_detections.csv",
            caption="../report/inpainting_detections.rst",
            category="Tables",
        ),
    log:
        "results/logs/generate/inpainting_detections.log",
    benchmark:
        "results/benchmarks/generate/inpainting_detections.tsv"
    conda:
        "../../envs/generate.yaml"
    params:
        curated=ANOMALIES["curated"],
    script:
        "../scripts/inpainting_detections.py"


rule plot_inpainting_samples:
    """The first inpainted samples: the square, the detected object mask."""
    input:
        data=[
            dataset_root(name)
            for name in ANOMALY_DATASETS
            if config["datasets"][name]["anomalies"] == "all"
        ],
        code=library_code("figures", "datasets"),
    output:
        png=report(
            "results/figures/generate/inpainting_samples.png",
            caption="../report/inpainting_samples.rst",
            category="Loiseau et al. 2024",
            subcategory="Generation",
            labels={"figure": "inpainted OOD objects"},
        ),
        pdf="results/figures/generate/inpainting_samples.pdf",
        data="results/tables/figures/generate/inpainting_samples.csv",
    log:
        "results/logs/generate/plot_inpainting_samples.log",
    benchmark:
        "results/benchmarks/generate/plot_inpainting_samples.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        images=6,
    script:
        "../scripts/plot_inpainting_samples.py"
