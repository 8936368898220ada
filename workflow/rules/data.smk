# Stage "data": the datasets every later stage reads, in the real datasets' layouts.
from segrel.core.formats import dataset_format

DEMO_DATASETS = [
    name for name, dataset in config["datasets"].items() if dataset["source"] == "demo"
]
# Real datasets obtained by the data stage (downloaded, or from archives on disk)
REAL_DATASETS = [
    name
    for name, dataset in config["datasets"].items()
    if dataset["source"] in ("download", "archives")
]


def demo_settings(wildcards):
    """What shapes one demo dataset: the writer's arguments (tracked as a param)."""
    fmt = config["datasets"][wildcards.dataset]["format"]
    return dataset_format(fmt).demo_arguments(config["demo"])


def dataset_archives(name):
    """The verified archives a real dataset is prepared from (resources/archives/<name>/)."""
    dataset = config["datasets"][name]
    if dataset["source"] == "archives":
        archives = list(dataset["archives"])
    else:
        archives = dataset_format(dataset["format"]).source.package_names
    return [f"resources/archives/{name}/{archive}" for archive in archives]


def archive_location(dataset, archive):
    """Where an archive is taken from: a path or URL in the config, or None (the publisher)."""
    if dataset["source"] != "archives":
        return None
    return dataset["archives"][archive]


def archive_request(wildcards):
    """What the fetch_dataset_archive job needs to obtain one archive (no credentials: those are
    read from the environment or ~/.netrc by the job itself)."""
    dataset = config["datasets"][wildcards.dataset]
    return {
        "format": dataset["format"],
        "name": wildcards.archive,
        "location": archive_location(dataset, wildcards.archive),
        "mirror": dataset.get("mirror"),
        "checksum": dataset["checksums"].get(wildcards.archive),
        "credential_prefix": wildcards.dataset.upper(),
    }


def archives_replaceable(wildcards):
    """Per archive: whether a corrupt copy may be deleted and fetched again (segrel downloaded
    it and no checksum vouched for it; see segrel.data.acquisition.replaceable)."""
    from segrel.data.acquisition import replaceable

    dataset = config["datasets"][wildcards.dataset]
    return [
        replaceable(
            dataset["format"],
            Path(path).name,
            dataset["checksums"].get(Path(path).name),
            archive_location(dataset, Path(path).name),
        )
        for path in dataset_archives(wildcards.dataset)
    ]


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


rule data:
    """Target of the data stage: every configured dataset, ready to read."""
    input:
        [dataset_root(name) for name in config["datasets"]],
