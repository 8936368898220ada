"""The generate stage's config: the test sets it adds and its cross-checks (what the schema
cannot say)."""

from __future__ import annotations

from pathlib import Path

from segrel.core.formats import GENERATED_ANOMALY_FORMAT


def add_test_sets(config: dict) -> None:
    """Generated domains and inpainted sets become datasets and test sets of their own."""
    add_synthetic_test_sets(config)
    add_anomaly_test_sets(config)


#: the real source images of the generated domains, cut as generation cuts their maps
REFERENCE_SET = "domain_reference"


def add_synthetic_test_sets(config: dict) -> None:
    """Each generation.domains entry adds a dataset and a test set ``synthetic_<name>``
    (unless the config already names them), so that the domain is evaluated and can be a proxy,
    and one ``synthetic_<name>_<label>`` per generation.ablation entry; with any domain, the
    reference set :data:`REFERENCE_SET` too (label-map fidelity)."""
    domains = config.get("generation", {}).get("domains", {})
    entries = {f"synthetic_{domain}": {"domain": domain} for domain in domains}
    entries.update({f"synthetic_{domain}_{label}": {"domain": domain, "generator": label}
                    for label in config.get("generation", {}).get("ablation", {}) for domain in domains})
    if domains:
        entries[REFERENCE_SET] = {"reference": True}
    for name, marker in entries.items():
        config.setdefault("datasets", {}).setdefault(name, {"format": "cityscapes", "source": "generated", **marker})
        config.setdefault("test_sets", {}).setdefault(name, {"dataset": name, "split": "val", "subset": "*"})


#: generation.anomalies: which inpainted set each added dataset / test set holds
ANOMALY_SETS = {"all": "synthetic_anomalies", "curated": "synthetic_anomalies_curated",
                "control": "synthetic_anomalies_control"}


def add_anomaly_test_sets(config: dict) -> None:
    """An enabled generation.anomalies adds SMIYC-layout datasets and test sets (unless the config
    already names them): every detected sample, the curated ones (only with a curated list) and
    the control object, so each is evaluated and can be a proxy."""
    anomalies = config.get("generation", {}).get("anomalies", {})
    if not anomalies.get("enabled"):
        return
    read_curated_list(anomalies)
    for kind, name in ANOMALY_SETS.items():
        if kind == "curated" and not anomalies.get("curated"):
            continue
        config.setdefault("datasets", {}).setdefault(name, {"format": GENERATED_ANOMALY_FORMAT, "source": "generated",
                                                            "anomalies": kind})
        config.setdefault("test_sets", {}).setdefault(name, {"dataset": name, "split": "validation", "subset": "*"})


#: the workflow's own folder (where config/ is): a relative curated file not found in the
#: working directory is read from here (the demo's config/curated.txt under `snakemake -d <dir>`)
WORKFLOW_DIR = Path(__file__).resolve().parents[4]


def read_curated_list(anomalies: dict) -> None:
    """``generation.anomalies.curated`` given as a file (the curation page's curated.txt) becomes
    its list of ids, checked like a list written in the config; a changed file changes the rules'
    params, so the curated set is rebuilt. A relative path is read from the working directory,
    else from the workflow's folder. A missing file stays a path (a config problem)."""
    from segrel.generate.curation import read_curated_file

    path = anomalies.get("curated")
    if not isinstance(path, str):
        return
    found = next((candidate for candidate in (Path(path), WORKFLOW_DIR / path) if candidate.is_file()), None)
    if found is not None:
        anomalies["curated"] = read_curated_file(found)


def config_problems(config: dict) -> list[str]:
    """Generated datasets name a domain; caption sets, ControlNet and domain generation name
    caption sets and datasets that exist; inpainting settings agree with their datasets."""
    datasets = config.get("datasets", {})
    generation = config.get("generation", {})
    sets = generation.get("captions", {}).get("sets", {})
    problems = []
    for name, dataset in datasets.items():
        if (dataset.get("source") == "generated" and "anomalies" not in dataset and not dataset.get("reference")
                and "stress" not in dataset and dataset.get("domain") not in generation.get("domains", {})):
            problems.append(f"config key 'datasets.{name}.domain': no generation.domains entry named "
                            f"{dataset.get('domain')!r}")
    models = generation.get("models", {})
    problems += [f"config key 'generation.ablation.{label}': no generation.models entry named {name!r}"
                 for label, name in generation.get("ablation", {}).items() if name not in models]
    source_set = generation.get("domain_generation", {}).get("source_set")
    if generation.get("domains") and source_set not in sets:
        problems.append(f"config key 'generation.domain_generation.source_set': no caption set named {source_set!r}")
    controlnet = generation.get("controlnet", {})
    for key, name in [("train_set", controlnet.get("train_set")),
                      ("validation.caption_set", controlnet.get("validation", {}).get("caption_set"))]:
        if name is not None and name not in sets:
            problems.append(f"config key 'generation.controlnet.{key}': no caption set named {name!r}; "
                            f"generation.captions.sets are: {', '.join(sorted(sets)) or 'none'}")
    for name, caption_set in sets.items():
        if caption_set["dataset"] not in datasets:
            problems.append(f"config key 'generation.captions.sets.{name}.dataset': no dataset named "
                            f"{caption_set['dataset']!r}; datasets are: {', '.join(sorted(datasets))}")
    return problems + _anomaly_references(config)


def _anomaly_references(config: dict) -> list[str]:
    generation = config.get("generation", {})
    anomalies = generation.get("anomalies", {})
    problems = []
    for name, dataset in config.get("datasets", {}).items():
        kind = dataset.get("anomalies")
        if kind is None:
            continue
        where = f"config key 'datasets.{name}.anomalies'"
        if not anomalies.get("enabled"):
            problems.append(f"{where}: generation.anomalies.enabled is false; enable it or remove the dataset")
        elif kind == "curated" and not anomalies.get("curated"):
            problems.append(f"{where}: a curated set needs sample ids in generation.anomalies.curated")
        if dataset.get("format") != GENERATED_ANOMALY_FORMAT or dataset.get("source") != "generated":
            problems.append(f"{where}: an inpainted set has format {GENERATED_ANOMALY_FORMAT} and source generated")
    if not anomalies.get("enabled"):
        return problems
    sets = generation.get("captions", {}).get("sets", {})
    if anomalies["source_set"] not in sets:
        problems.append(f"config key 'generation.anomalies.source_set': no caption set named "
                        f"{anomalies['source_set']!r}; generation.captions.sets are: "
                        f"{', '.join(sorted(sets)) or 'none'}")
    if isinstance(anomalies["curated"], str):
        problems.append(f"config key 'generation.anomalies.curated': no file {anomalies['curated']!r}; write it with "
                        "the curation page (snakemake results/curation, open results/curation/index.html, download "
                        "curated.txt) or give the ids as a list")
    elif anomalies["curated"]:
        from segrel.generate.inpainting import (  # the ids are known before anything is generated
            anomaly_items,
            sample_id,
        )

        objects = anomalies["objects"]
        ids = {name for name, _, _ in anomaly_items(objects, [None], anomalies["images"])}
        unknown = [name for name in anomalies["curated"] if name not in ids]
        if unknown:
            problems.append(f"config key 'generation.anomalies.curated': {', '.join(unknown[:5])}"
                            f"{' ...' if len(unknown) > 5 else ''} are not sample ids of the objects set "
                            f"(ids are <index>_<object>, e.g. {sample_id(0, objects[0])}; "
                            f"see resources/datasets/synthetic_anomalies/samples.csv)")
    return problems
