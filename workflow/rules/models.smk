# Stage "models": every model as (mmseg config, checkpoint) under resources/models/<name>/.


include: "functions/models.smk"


rule train_demo_model:
    input:
        data=lambda wildcards: dataset_input(config["model_training"]["train_dataset"]),
        code=library_code("train_demo_model.py"),
    output:
        config="resources/models/{model}/{model}.py",
        checkpoint="resources/models/{model}/{model}.pth",
        # the weights after the iterations of models that are earlier stops of this run
        snapshots=directory("resources/models/{model}/snapshots"),
    log:
        "results/logs/models/train_demo_model/{model}.log",
    benchmark:
        "results/benchmarks/models/train_demo_model/{model}.tsv"
    wildcard_constraints:
        model="|".join(DEMO_MODELS) or "^$",
    priority: training_priority
    conda:
        "../../envs/models.yaml"
    threads: config["model_training"]["threads"]
    resources:
        gpu=1,
    params:
        settings=training_settings,
        data_root=lambda wildcards: dataset_root(
            config["model_training"]["train_dataset"]
        ),
    script:
        "../scripts/train_demo_model.py"


rule demo_model_snapshot:
    """A demo model that is an earlier stop of another one's training run (no training)."""
    input:
        unpack(snapshot_source),
        code=library_code("demo_model_snapshot.py"),
    output:
        config="resources/models/{model}/{model}.py",
        checkpoint="resources/models/{model}/{model}.pth",
    log:
        "results/logs/models/demo_model_snapshot/{model}.log",
    benchmark:
        "results/benchmarks/models/demo_model_snapshot/{model}.tsv"
    wildcard_constraints:
        model="|".join(SNAPSHOT_MODELS) or "^$",
    conda:
        "../../envs/models.yaml"
    params:
        iterations=lambda wildcards: MODEL_SPECS[wildcards.model]["training"][
            "iterations"
        ],
    script:
        "../scripts/demo_model_snapshot.py"


rule fetch_zoo_model:
    """A released mmseg model: its inference config and its verified checkpoint (downloaded once;
    no library code as input: editing it must not download 40 checkpoints again)."""
    output:
        config="resources/models/{model}/{model}.py",
        checkpoint="resources/models/{model}/{model}.pth",
    log:
        "results/logs/models/fetch_zoo_model/{model}.log",
    benchmark:
        "results/benchmarks/models/fetch_zoo_model/{model}.tsv"
    wildcard_constraints:
        model="|".join(ZOO_MODELS) or "^$",
    retries: 2  # an interrupted download resumes from its .part file
    conda:
        "../../envs/models.yaml"
    params:
        model=zoo_model,
        mirror=config["zoo"]["mirror"],
    script:
        "../scripts/fetch_zoo_model.py"


rule fetch_url_model:
    """A user's model (source: url): their mmseg config as segrel runs it, and the checkpoint
    downloaded once and verified against its SHA-256 (no library code as input, as for zoo models).
    """
    input:
        unpack(external_model_input),
    output:
        config="resources/models/{model}/{model}.py",
        checkpoint="resources/models/{model}/{model}.pth",
    log:
        "results/logs/models/fetch_url_model/{model}.log",
    benchmark:
        "results/benchmarks/models/fetch_url_model/{model}.tsv"
    wildcard_constraints:
        model="|".join(URL_MODELS) or "^$",
    retries: 2  # an interrupted download resumes from its .part file
    conda:
        "../../envs/models.yaml"
    params:
        model=external_model,
    script:
        "../scripts/prepare_external_model.py"


use rule fetch_url_model as verify_local_model with:
    output:
        # the checkpoint is read where it is (model_files): rule input, so replacing it re-runs
        config="resources/models/{model}/{model}.py",
    log:
        "results/logs/models/verify_local_model/{model}.log",
    benchmark:
        "results/benchmarks/models/verify_local_model/{model}.tsv"
    wildcard_constraints:
        model="|".join(LOCAL_MODELS) or "^$",
    retries: 0


rule models:
    """Target of the models stage: every configured model, ready to load."""
    input:
        [path for model in MODEL_SPECS for path in model_files(model).values()],
