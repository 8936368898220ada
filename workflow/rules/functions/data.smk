# Helper functions and constants of stage "data", used by ../data.smk.

from segrel.core.formats import dataset_format
from segrel.data.manifest import fingerprint

DEMO_DATASETS = [
    name for name, dataset in config["datasets"].items() if dataset["source"] == "demo"
]
# Local copies, read where they are (tracked through their listing: rule local_dataset_manifest)
LOCAL_DATASETS = [
    name for name, dataset in config["datasets"].items() if dataset["source"] == "local"
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
        source = dataset_format(dataset["format"]).source
        archives = source.package_names
        if dataset["depth"]:
            archives += [package.name for package in source.depth_packages]
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
