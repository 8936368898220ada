# Stage "generate" (Loiseau et al. 2024): captions, ControlNet fine-tuning on label maps,
# domain generation and OOD-object inpainting. The demo builds tiny generators offline.

CONTROLNET = config["generation"]["controlnet"]
DOMAIN_GENERATION = config["generation"]["domain_generation"]


rule demo_generator:
    """A tiny randomly initialised generator in the Hugging Face layout (demo only)."""
    input:
        code=library_code("generators", "io"),
    output:
        directory("resources/generators/{generator}"),
    log:
        "results/logs/generate/demo_generator/{generator}.log",
    benchmark:
        "results/benchmarks/generate/demo_generator/{generator}.tsv"
    wildcard_constraints:
        generator="|".join(DEMO_GENERATORS) or "^$",
    conda:
        "../../envs/generate.yaml"
    params:
        seed=config["generation"]["seed"],
    script:
        "../scripts/build_demo_generator.py"


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
