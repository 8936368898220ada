# Stage "generate" (Loiseau et al. 2024): captions and ControlNet fine-tuning on label maps here;
# the demo's tiny generators (generate_demo.smk), generated domains (generate_domains.smk) and
# inpainted OOD objects (generate_anomalies.smk) in the files included below.


include: "functions/generate.smk"
include: "generate_demo.smk"


rule caption_images:
    """One BLIP caption per image of a dataset split."""
    input:
        unpack(lambda wildcards: generator_files("captioner")),
        data=lambda wildcards: dataset_input(
            caption_set(wildcards.caption_set)["dataset"]
        ),
        code=library_code("caption_images.py"),
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


rule train_controlnet:
    """ControlNet on label maps, initialised from SD's UNet; resumes from its own checkpoints."""
    input:
        unpack(lambda wildcards: generator_files("stable_diffusion")),
        data=lambda wildcards: dataset_input(
            caption_set(CONTROLNET["train_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{CONTROLNET['train_set']}.csv",
        code=library_code("train_controlnet.py"),
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
        settings=CONTROLNET_TRAINING,
    script:
        "../scripts/train_controlnet.py"


use rule train_controlnet as train_ablation_controlnet with:
    """A generation.ablation generator's ControlNet: generation.controlnet (+ ablation_training)."""
    input:
        unpack(lambda wildcards: generator_files(ABLATION[wildcards.label])),
        data=lambda wildcards: dataset_input(
            caption_set(CONTROLNET["train_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{CONTROLNET['train_set']}.csv",
        code=library_code("train_controlnet.py"),
    output:
        directory("resources/controlnet_{label}/model"),
    log:
        "results/logs/generate/train_ablation_controlnet/{label}.log",
    benchmark:
        "results/benchmarks/generate/train_ablation_controlnet/{label}.tsv"
    wildcard_constraints:
        label="|".join(ABLATION) or "^$",
    params:
        base=lambda wildcards: generator_model(ABLATION[wildcards.label]),
        dataset=lambda wildcards: caption_set(CONTROLNET["train_set"]),
        work_dir=lambda wildcards: f"resources/controlnet_{wildcards.label}/checkpoints",
        settings=ABLATION_CONTROLNET_TRAINING,


rule controlnet_validation:
    """Images generated from val label maps and their captions, next to the real ones."""
    input:
        unpack(lambda wildcards: generator_files("stable_diffusion")),
        controlnet="resources/controlnet/model",
        data=dataset_input(
            caption_set(CONTROLNET["validation"]["caption_set"])["dataset"]
        ),
        captions=f"results/generate/captions/{CONTROLNET['validation']['caption_set']}.csv",
        code=library_code("controlnet_validation.py"),
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
        condition=CONTROLNET["condition"],
        validation=CONTROLNET["validation"],
        device=DOMAIN_GENERATION["device"],
    script:
        "../scripts/controlnet_validation.py"


include: "generate_domains.smk"
include: "generate_anomalies.smk"


rule generate:
    """Target of the generate stage (captions, ControlNet, domains, inpainted objects)."""
    input:
        generation_outputs(),
