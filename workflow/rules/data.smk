# Stage "data": the datasets every later stage reads, in the real datasets' layouts.


include: "functions/data.smk"


rule demo_dataset:
    input:
        # The generator's code is an input: editing it regenerates the data.
        code=library_code("make_demo_dataset.py"),
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


rule fetch_dataset_archive:
    """One archive of a real dataset, verified: downloaded (resumably) from the publisher or a
    URL, or linked from disk. No library code as input: editing it must not re-download 20 GB.
    """
    output:
        "resources/archives/{dataset}/{archive}",
    log:
        "results/logs/data/fetch_dataset_archive/{dataset}/{archive}.log",
    benchmark:
        "results/benchmarks/data/fetch_dataset_archive/{dataset}/{archive}.tsv"
    wildcard_constraints:
        dataset="|".join(REAL_DATASETS) or "^$",
        archive=r"[^/]+",
    retries: 2  # an interrupted download resumes from its .part file
    conda:
        "../../envs/data.yaml"
    params:
        request=archive_request,
    script:
        "../scripts/fetch_dataset_archive.py"


rule prepare_dataset:
    """A real dataset's archives extracted into a scratch folder, arranged (IDD: level-3 label
    images rendered from the polygons), checked, then renamed into place."""
    input:
        archives=lambda wildcards: dataset_archives(wildcards.dataset),
        code=library_code("prepare_dataset.py"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/data/prepare_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/data/prepare_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(REAL_DATASETS) or "^$",
    conda:
        "../../envs/data.yaml"
    params:
        format=lambda wildcards: config["datasets"][wildcards.dataset]["format"],
        replaceable=archives_replaceable,
    script:
        "../scripts/prepare_dataset.py"


rule local_dataset_manifest:
    """The listing of a local dataset (paths, sizes, modification times): re-written whenever
    its fingerprint, taken at each invocation, changes; the input of every job reading it.
    """
    input:
        code=library_code("local_dataset_manifest.py"),
    output:
        "results/manifests/{dataset}.tsv",
    log:
        "results/logs/data/local_dataset_manifest/{dataset}.log",
    benchmark:
        "results/benchmarks/data/local_dataset_manifest/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(LOCAL_DATASETS) or "^$",
    conda:
        "../../envs/data.yaml"
    params:
        root=lambda wildcards: dataset_root(wildcards.dataset),
        fingerprint=lambda wildcards: fingerprint(dataset_root(wildcards.dataset)),
    script:
        "../scripts/local_dataset_manifest.py"


rule data:
    """Target of the data stage: every configured dataset, ready to read."""
    input:
        [dataset_input(name) for name in config["datasets"]],
