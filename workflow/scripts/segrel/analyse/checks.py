"""The analyse stage's config cross-checks (what the schema cannot say)."""

from __future__ import annotations

from segrel.evaluate.metrics_table import METRIC_NAMES, unknown_metric


def config_problems(config: dict) -> list[str]:
    """Comparisons name test sets and known metrics; the robust-models comparison and the
    confidence-map model exist."""
    analysis, test_sets = config.get("analysis", {}), config.get("test_sets", {})
    problems = []
    comparisons = analysis.get("comparisons", {})
    for name, comparison in comparisons.items():
        for key, value in [("real", comparison["real"])] + [("proxies", p) for p in comparison["proxies"]]:
            if value not in test_sets:
                problems.append(f"config key 'analysis.comparisons.{name}.{key}': no test set named {value!r}; "
                                f"test sets are: {', '.join(sorted(test_sets))}")
        problems += [f"config key 'analysis.comparisons.{name}.metrics': {unknown_metric(metric)}"
                     for metric in comparison["metrics"] if metric not in METRIC_NAMES]
    robust = analysis.get("robust_models", {})
    if comparisons and robust.get("comparison") is not None:
        problems += _robust_models_problems(config, robust, comparisons, test_sets)
    model = analysis.get("confidence_maps", {}).get("model")
    if model and model not in config.get("models", {}):
        problems.append(f"config key 'analysis.confidence_maps.model': no model named {model!r}")
    return (problems + _rare_domains_problems(config, analysis.get("rare_domains", {}))
            + _sample_size_problems(config, comparisons))


def _sample_size_problems(config: dict, comparisons: dict) -> list[str]:
    """A generated proxy's image count is known now: some sample size must fit in it (the job
    refuses the proxies whose counts only the data knows)."""
    sizes = config.get("analysis", {}).get("sample_sizes", [])
    images = config.get("generation", {}).get("domain_generation", {}).get("images")
    generated = {f"synthetic_{domain}" for domain in config.get("generation", {}).get("domains", {})}
    proxies = sorted({proxy for comparison in comparisons.values() if comparison.get("sample_size", True)
                      for proxy in comparison["proxies"] if proxy in generated})
    if not proxies or images is None or not sizes or min(sizes) <= images:
        return []
    return [f"config key 'analysis.sample_sizes': every size ({', '.join(map(str, sorted(sizes)))}) is above the "
            f"{images} images of each generated domain ({', '.join(proxies)}); add smaller ones, or set "
            "sample_size: false in those comparisons"]


def _rare_domains_problems(config: dict, rare: dict) -> list[str]:
    """Fig. 7's domains do not reuse a generated domain's name; it names models that exist."""
    if not rare.get("domains"):
        return []
    problems = []
    clashes = sorted(set(rare["domains"]) & set(config.get("generation", {}).get("domains", {})))
    if clashes:
        problems.append(f"config key 'analysis.rare_domains.domains': {', '.join(clashes)} also in generation.domains "
                        "(both are generated under resources/synthetic/<name>): rename the rare domain")
    models = ", ".join(config.get("models", {}))
    if not rare.get("models"):
        problems.append("config key 'analysis.rare_domains.models': empty; name the models to draw "
                        f"(e.g. a weak and a strong one) among: {models}")
    problems += [f"config key 'analysis.rare_domains.models': no model named {name!r}; models are: {models}"
                 for name in rare.get("models", []) if name not in config.get("models", {})]
    return problems


def _robust_models_problems(config: dict, robust: dict, comparisons: dict, test_sets: dict) -> list[str]:
    """Fig. 4's comparison exists; its reference family has a model and its in-domain set exists."""
    if robust["comparison"] not in comparisons:
        return [f"config key 'analysis.robust_models.comparison': no comparison named {robust['comparison']!r}; "
                f"comparisons are: {', '.join(sorted(comparisons))}"]
    problems = []
    families = sorted({model["family"] for model in config.get("models", {}).values()})
    if families and robust["reference_family"] not in families:
        problems.append(f"config key 'analysis.robust_models.reference_family': no model of family "
                        f"{robust['reference_family']!r}; families are: {', '.join(families)}")
    if robust["in_domain"] not in test_sets:
        problems.append(f"config key 'analysis.robust_models.in_domain': no test set named {robust['in_domain']!r}")
    return problems



def realism_pairs(config: dict) -> list[dict]:
    """The (test set, against, role) pairs of FID / KID (analysis.realism; none without a
    feature extractor): each generated proxy of a comparison, and the same domain by each
    generation.ablation generator, against its real target ("real counterpart"); a generated
    domain and its real target against the real images of its label maps ("reference": the
    generate stage's domain_reference set, Cityscapes val's scale)."""
    from segrel.generate.checks import REFERENCE_SET

    if not config.get("analysis", {}).get("realism", {}).get("source"):
        return []
    test_sets, datasets = config.get("test_sets", {}), config.get("datasets", {})

    def generated(name):
        dataset = datasets.get(test_sets.get(name, {}).get("dataset"), {})
        return dataset.get("source") == "generated" and "stress" not in dataset and not dataset.get("reference")

    # {domain: its test sets by the generation.ablation generators}
    by_other_generators = {}
    for name, test_set in test_sets.items():
        dataset = datasets.get(test_set["dataset"], {})
        if "generator" in dataset:
            by_other_generators.setdefault(dataset["domain"], []).append(name)

    pairs = []
    for comparison in config["analysis"].get("comparisons", {}).values():
        real = comparison["real"]
        for proxy in filter(generated, comparison["proxies"]):
            domain = datasets[test_sets[proxy]["dataset"]].get("domain")
            for generated_set in [proxy, *by_other_generators.get(domain, [])]:
                pairs.append({"test_set": generated_set, "against": real, "role": "real counterpart"})
                if REFERENCE_SET in test_sets and "domain" in datasets[test_sets[generated_set]["dataset"]]:
                    pairs += [{"test_set": generated_set, "against": REFERENCE_SET, "role": "reference"},
                              {"test_set": real, "against": REFERENCE_SET, "role": "reference"}]
    return [dict(pair) for pair in dict.fromkeys(tuple(pair.items()) for pair in pairs)]
