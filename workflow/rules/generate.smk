# Stage "generate" (Loiseau et al. 2024): captions, ControlNet fine-tuning on label maps,
# domain generation and OOD-object inpainting. The demo builds tiny generators offline.


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
