"""The data stage's config cross-checks (what the schema cannot say)."""

from __future__ import annotations

from pathlib import Path


def config_problems(config: dict) -> list[str]:
    """A local copy's folder exists; real datasets: a download the publisher does not offer,
    credentials or a token in a URL (archives, mirror), pins for archives that are not fetched.
    (Missing archives are the fetch job's error, so that a dry run works before they are there.)"""

    from segrel.core.formats import GENERATED_ONLY
    from segrel.data.acquisition import is_url, source
    from segrel.data.download import account_fix, url_secret_problems

    problems = []
    for name, dataset in config.get("datasets", {}).items():
        where = f"config key 'datasets.{name}"
        kind = dataset.get("source")
        if dataset.get("format") in GENERATED_ONLY and kind not in ("generated", "local"):
            problems.append(f"{where}.format': {dataset['format']} is what segrel's generate stage writes; read "
                            "such a copy with source: local, or use the format of the real dataset")
            continue
        if kind == "local" and not Path(dataset["path"]).is_dir():
            problems.append(f"{where}.path': no folder {dataset['path']} (relative paths start in the working "
                            "directory); give the dataset's root, the folder that holds its image and label folders")
        if kind not in ("download", "archives"):
            continue
        src = source(dataset["format"])
        if kind == "download" and src.protocol == "none":
            problems.append(f"{where}.source': {dataset['format']} cannot be downloaded by script; get "
                            f"{', '.join(src.package_names)} at {src.registration} and set "
                            f"source: archives with archives: {{<file name>: <path or URL>}}")
        if kind == "download" and "archives" in dataset:
            problems.append(f"{where}.archives': only read with source: archives")
        for archive, location in dataset.get("archives", {}).items():
            if is_url(location):  # the fetch job reads <DATASET>_USERNAME / _PASSWORD
                problems += url_secret_problems(f"datasets.{name}.archives.{archive}", location,
                                                account_fix(name.upper()))
        if "mirror" in dataset:  # the publisher's protocol, with its own account variables
            fix = (f"use {' / '.join(src.credentials)} or ~/.netrc" if src.credentials
                   else "a mirror that needs an account is not supported; serve it without one")
            problems += url_secret_problems(f"datasets.{name}.mirror", dataset["mirror"], fix)
        for archive in dataset.get("archives", {}):
            if "/" in archive:
                problems.append(f"{where}.archives.{archive}': the key is the archive's file name, not a path")
        fetched = dataset.get("archives", {}) if kind == "archives" else src.package_names
        for archive in dataset.get("checksums", {}):
            if archive not in fetched:
                problems.append(f"{where}.checksums.{archive}': not one of this dataset's archives "
                                f"({', '.join(fetched)})")
    return problems
