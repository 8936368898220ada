# Stage "generate": synthetic domains, generated from val label maps prompted
# '<caption>, in <domain>', each evaluated as a Cityscapes-layout test set synthetic_<domain>.


rule generate_domain_shard:
    """One shard of a synthetic domain: images from val label maps, prompted '<caption>, in <domain>'
    (also the rare domains of analysis.rare_domains, Loiseau et al. Fig. 7)."""
    input:
        unpack(lambda wildcards: generator_files("stable_diffusion")),
        controlnet="resources/controlnet/model",
        data=lambda wildcards: dataset_input(
            caption_set(DOMAIN_GENERATION["source_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{DOMAIN_GENERATION['source_set']}.csv",
        code=library_code("generate_domain_shard.py"),
    output:
        directory("resources/synthetic/{domain}/shard-{shard}-of-{shards}"),
    log:
        "results/logs/generate/generate_domain_shard/{domain}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/generate/generate_domain_shard/{domain}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        domain="|".join(DOMAIN_TEXTS) or "^$",
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
        text=lambda wildcards: DOMAIN_TEXTS[wildcards.domain],
        resolution=CONTROLNET["resolution"],
        condition=CONTROLNET["condition"],
        settings=lambda wildcards: domain_generation_settings(wildcards.domain),
    script:
        "../scripts/generate_domain_shard.py"


use rule generate_domain_shard as generate_ablation_domain_shard with:
    """One shard of a synthetic domain by a generation.ablation generator and its own ControlNet."""
    input:
        unpack(lambda wildcards: generator_files(ABLATION[wildcards.label])),
        controlnet="resources/controlnet_{label}/model",
        data=lambda wildcards: dataset_input(
            caption_set(DOMAIN_GENERATION["source_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{DOMAIN_GENERATION['source_set']}.csv",
        code=library_code("generate_domain_shard.py"),
    output:
        directory("resources/synthetic_{label}/{domain}/shard-{shard}-of-{shards}"),
    log:
        "results/logs/generate/generate_ablation_domain_shard/{label}/{domain}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/generate/generate_ablation_domain_shard/{label}/{domain}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        label="|".join(ABLATION) or "^$",
        domain="|".join(config["generation"]["domains"]) or "^$",
        shard=r"\d+",
        shards=r"\d+",
    params:
        base=lambda wildcards: generator_model(ABLATION[wildcards.label]),
        dataset=lambda wildcards: caption_set(DOMAIN_GENERATION["source_set"]),
        text=lambda wildcards: DOMAIN_TEXTS[wildcards.domain],
        resolution=CONTROLNET["resolution"],
        condition=CONTROLNET["condition"],
        settings=lambda wildcards: domain_generation_settings(wildcards.domain),


rule synthetic_dataset:
    """A generated domain as one Cityscapes-layout dataset (the shards put together)."""
    input:
        shards=lambda wildcards: domain_shards(
            config["datasets"][wildcards.dataset]["domain"],
            config["datasets"][wildcards.dataset].get("generator"),
        ),
        code=library_code("synthetic_dataset.py"),
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


rule domain_reference_dataset:
    """The real images of the generation's label maps, cut and resized as generation cuts the
    maps: the reference of label-map fidelity (results/tables/fidelity.csv)."""
    input:
        data=lambda wildcards: dataset_input(
            caption_set(DOMAIN_GENERATION["source_set"])["dataset"]
        ),
        code=library_code("domain_reference_dataset.py"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/generate/domain_reference_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/generate/domain_reference_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(REFERENCE_DATASETS) or "^$",
    conda:
        "../../envs/generate.yaml"
    params:
        dataset=lambda wildcards: caption_set(DOMAIN_GENERATION["source_set"]),
        images=DOMAIN_GENERATION["images"],
        seed=DOMAIN_GENERATION["seed"],
        resolution=CONTROLNET["resolution"],
    script:
        "../scripts/domain_reference_dataset.py"


rule plot_domain_samples:
    """The same label maps in every generated domain (Loiseau et al. Fig. 2/7)."""
    input:
        source=lambda wildcards: dataset_input(
            caption_set(DOMAIN_GENERATION["source_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{DOMAIN_GENERATION['source_set']}.csv",
        domains=[dataset_input(name) for name in GENERATED_DATASETS],
        code=library_code("plot_domain_samples.py"),
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
        domains={name: generated_label(name) for name in GENERATED_DATASETS},
        generated={key: DOMAIN_GENERATION[key] for key in ("images", "seed")},
        images=CONTROLNET["validation"]["images"],
    script:
        "../scripts/plot_domain_samples.py"
