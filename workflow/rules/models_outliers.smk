# Stage "models", outlier training (Loiseau et al. Table 2, RbA): the Mask2Former of
# outlier_training.model fine-tuned with each source of pasted objects, evaluated by the evaluate
# stage's rules on outlier_training.test_sets. Included after evaluate.smk (it reuses its rules).


include: "functions/models_outliers.smk"


rule outlier_objects:
    """One source of pasted objects as an object bank: RGBA crops, alpha = the object's mask."""
    input:
        data=outlier_objects_input,
        code=library_code("outlier_objects.py"),
    output:
        directory("resources/outlier_objects/{objects}"),
    log:
        "results/logs/models/outlier_objects/{objects}.log",
    benchmark:
        "results/benchmarks/models/outlier_objects/{objects}.tsv"
    wildcard_constraints:
        objects="|".join(OUTLIERS["objects"]) or "^$",
    conda:
        "../../envs/models.yaml"
    params:
        source=outlier_objects_source,
    script:
        "../scripts/outlier_objects.py"


rule train_outlier_model:
    """outlier_training.model fine-tuned with RbA's loss on crops with one source's objects
    pasted in (resumable: a killed job continues from its last checkpoint)."""
    input:
        unpack(lambda wildcards: model_files(OUTLIERS["model"])),
        data=dataset_input(OUTLIERS["train_dataset"]),
        objects=lambda wildcards: f"resources/outlier_objects/{OUTLIER_MODELS[wildcards.model]}",
        code=library_code("train_outlier_model.py"),
    output:
        config=f"{OUTLIER_MODEL}.py",
        checkpoint=f"{OUTLIER_MODEL}.pth",
    log:
        "results/logs/models/train_outlier_model/{model}.log",
    benchmark:
        "results/benchmarks/models/train_outlier_model/{model}.tsv"
    wildcard_constraints:
        model="|".join(map(re.escape, OUTLIER_MODELS)) or "^$",
    conda:
        "../../envs/models.yaml"
    threads: OUTLIERS["threads"]
    resources:
        gpu=1,
    params:
        settings={
            key: value
            for key, value in OUTLIERS.items()
            if key
            not in (
                "model",
                "models",
                "objects",
                "test_sets",
                "train_dataset",
                "threads",
            )
        },
        data_root=lambda wildcards: dataset_root(OUTLIERS["train_dataset"]),
    script:
        "../scripts/train_outlier_model.py"


use rule evaluate_shard as evaluate_outlier_model with:
    """A fine-tuned model (or outlier_training.model, when the study does not evaluate it) on
    one shard of one of outlier_training.test_sets."""
    input:
        unpack(lambda wildcards: outlier_model_files(wildcards.model)),
        data=lambda wildcards: dataset_input(
            config["test_sets"][wildcards.test_set]["dataset"]
        ),
        code=library_code("evaluate_shard.py"),
    output:
        "results/outliers/evaluation/{model}/{test_set}/shard-{shard}-of-{shards}.npz",
    log:
        "results/logs/models/evaluate_outlier_model/{model}/{test_set}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/models/evaluate_outlier_model/{model}/{test_set}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model=outlier_models_evaluated_by("per_test_set"),
        test_set="|".join(map(re.escape, OUTLIERS["test_sets"])) or "^$",
        shard=r"\d+",
        shards=r"\d+",


use rule evaluate_shard as evaluate_outlier_model_sets with:
    """A fine-tuned model (or outlier_training.model, when the study does not evaluate it) on
    one shard of every one of outlier_training.test_sets, loaded once (evaluation.jobs: per_model).
    """
    input:
        unpack(lambda wildcards: outlier_model_files(wildcards.model)),
        data=sorted(
            {
                dataset_input(config["test_sets"][name]["dataset"])
                for name in OUTLIERS["test_sets"]
            }
        ),
        code=library_code("evaluate_shard.py"),
    output:
        [
            f"results/outliers/evaluation/{{model}}/{name}/shard-{{shard}}-of-{{shards}}.npz"
            for name in OUTLIERS["test_sets"]
        ],
    log:
        "results/logs/models/evaluate_outlier_model_sets/{model}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/models/evaluate_outlier_model_sets/{model}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model=outlier_models_evaluated_by("per_model"),
        shard=r"\d+",
        shards=r"\d+",
    params:
        test_sets=evaluated_test_sets(OUTLIERS["test_sets"]),
        shards=lambda wildcards: int(wildcards.shards),
        settings=EVALUATION_SETTINGS,


use rule merge_evaluation as merge_outlier_evaluation with:
    """The outlier-trained models' and their base model's metrics on outlier_training.test_sets."""
    input:
        [path for paths in outlier_evaluation_shards().values() for path in paths],
        code=library_code("merge_evaluation.py"),
    output:
        metrics="results/outliers/metrics.csv",
        images="results/outliers/image_confidence.csv",
        ablations="results/outliers/ablations.csv",
    log:
        "results/logs/models/merge_outlier_evaluation.log",
    benchmark:
        "results/benchmarks/models/merge_outlier_evaluation.tsv"
    params:
        shards=outlier_evaluation_shards(),
        in_domain=None,
        excluded_classes=excluded_classes(),


rule outlier_table:
    """Loiseau et al. Table 2: OOD detection (every anomaly score, RbA first) and mIoU of the base
    model and of each outlier-trained one."""
    input:
        metrics="results/outliers/metrics.csv",
        code=library_code("outlier_table.py"),
    output:
        report(
            "results/tables/outlier_training.csv",
            caption="../report/outlier_training.rst",
            category="Loiseau et al. 2024",
            subcategory="Outlier training",
            labels={"table": "Table 2"},
        ),
    log:
        "results/logs/models/outlier_table.log",
    benchmark:
        "results/benchmarks/models/outlier_table.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        base=OUTLIERS["model"],
        variants=OUTLIER_MODELS,
        objects=OUTLIERS["objects"],
    script:
        "../scripts/outlier_table.py"
