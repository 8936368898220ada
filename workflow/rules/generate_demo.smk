# Stage "generate", demo only: tiny generators built offline in the Hugging Face layout and
# pre-trained on captioned procedural scenes (the real ones come pre-trained from the hub).


rule demo_generator:
    """A tiny randomly initialised generator in the Hugging Face layout (demo only)."""
    input:
        code=library_code("build_demo_generator.py"),
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
        code=library_code("demo_pretraining_set.py"),
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
        # SD inpainting (and the tiny SDXL: its VAE, first text encoder) start from the text-to-image model
        stable_diffusion=lambda wildcards: (
            ["resources/generators/stable_diffusion"]
            if wildcards.generator in ("inpainting", "stable_diffusion_xl")
            else []
        ),
        code=library_code("pretrain_demo_generator.py"),
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
                    "stable_diffusion_xl",
                    "inpainting",
                    "captioner",
                )
            },
            "resolution": CONTROLNET["resolution"],
        },
    script:
        "../scripts/pretrain_demo_generator.py"
