# Stage "evaluate": one forward pass per (model, image), every metric, shards merged to a table.


include: "functions/evaluate.smk"


rule evaluate_shard:
    """One model on one shard of one test set (evaluation.jobs: per_test_set)."""
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=lambda wildcards: dataset_input(
            config["test_sets"][wildcards.test_set]["dataset"]
        ),
        code=library_code("evaluate_shard.py"),
    output:
        "results/evaluation/{model}/{test_set}/shard-{shard}-of-{shards}.npz",
    log:
        "results/logs/evaluate/evaluate_shard/{model}/{test_set}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/evaluate/evaluate_shard/{model}/{test_set}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model=models_evaluated_by("per_test_set"),
        shard=r"\d+",
        shards=r"\d+",
    conda:
        "../../envs/evaluate.yaml"
    threads: config["evaluation"]["threads"]
    resources:
        gpu=1,
    params:
        test_sets=lambda wildcards: evaluated_test_sets([wildcards.test_set]),
        shards=lambda wildcards: int(wildcards.shards),
        settings=EVALUATION_SETTINGS,
    script:
        "../scripts/evaluate_shard.py"


use rule evaluate_shard as evaluate_model with:
    """One model on one shard of every test set, imports and the model loaded once
    (evaluation.jobs: per_model)."""
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=test_set_inputs(),
        code=library_code("evaluate_shard.py"),
    output:
        [
            f"results/evaluation/{{model}}/{name}/shard-{{shard}}-of-{{shards}}.npz"
            for name in config["test_sets"]
        ],
    log:
        "results/logs/evaluate/evaluate_model/{model}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/evaluate/evaluate_model/{model}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model=models_evaluated_by("per_model"),
        shard=r"\d+",
        shards=r"\d+",
    params:
        test_sets=evaluated_test_sets(config["test_sets"]),
        shards=lambda wildcards: int(wildcards.shards),
        settings=EVALUATION_SETTINGS,


rule merge_evaluation:
    input:
        [path for paths in evaluation_shards().values() for path in paths],
        code=library_code("merge_evaluation.py"),
    output:
        metrics="results/tables/metrics.csv",
        images="results/tables/image_confidence.csv",
        ablations="results/tables/ablations.csv",
    log:
        "results/logs/evaluate/merge_evaluation.log",
    benchmark:
        "results/benchmarks/evaluate/merge_evaluation.tsv"
    conda:
        "../../envs/evaluate.yaml"
    params:
        shards=evaluation_shards(),
        in_domain=config["evaluation"]["in_domain_test_set"],
        excluded_classes=excluded_classes(),
    script:
        "../scripts/merge_evaluation.py"


rule evaluate:
    """Target of the evaluate stage: the metrics table of every model on every test set."""
    input:
        rules.merge_evaluation.output,
