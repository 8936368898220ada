# Stage "data": the datasets every later stage reads, in the real datasets' layouts.


rule demo_dataset:
    output:
        directory("resources/datasets/{dataset}"),
    params:
        format=lambda wildcards: config["datasets"][wildcards.dataset]["format"],
        settings=demo_settings,
    log:
        "results/logs/data/demo_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/data/demo_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(DEMO_DATASETS) or "^$",
    script:
        "../scripts/make_demo_dataset.py"


rule data:
    """Target of the data stage: every configured dataset, ready to read."""
    input:
        [dataset_root(name) for name in config["datasets"]],
