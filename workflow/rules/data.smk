# Stage "data": the datasets every later stage reads, in the real datasets' layouts.


rule demo_dataset:
    input:
        # The generator's code is an input: editing it regenerates the data.
        code=library_code("demo_data", "scenes", "weather", "labels", "io"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/data/demo_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/data/demo_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(DEMO_DATASETS) or "^$",
    conda:
        "../../envs/data.yaml"
    params:
        format=lambda wildcards: config["datasets"][wildcards.dataset]["format"],
        settings=demo_settings,
    script:
        "../scripts/make_demo_dataset.py"


rule data:
    """Target of the data stage: every configured dataset, ready to read."""
    input:
        [dataset_root(name) for name in config["datasets"]],
