# Helper functions and constants of stage "analyse", used by ../analyse.smk. They also use
# evaluation_shards / test_set_spec (functions/evaluate.smk) and ANOMALY_DATASETS
# (functions/generate.smk), which the Snakefile includes first.

from segrel.analyse.checks import realism_pairs

# [{test_set, against, role}] of FID / KID (analysis.realism)
REALISM_PAIRS = realism_pairs(config)

RELIABILITY_FIGURES = [
    "shift_degradation",
    "ece_vs_error",
    "ood_detection",
    "ood_vs_miou",
    "misclassification",
]


def ablations_asked():
    """{ablation figure: whether evaluation.ablations asks for it}."""
    ablations = config["evaluation"]["ablations"]
    return {
        "calibration_pixels": bool(ablations["calibration_pixels"]),
        "confidence": ablations["negative_entropy"],
    }


def model_families():
    """{model: architecture family}: one marker per family in every figure."""
    return {name: model["family"] for name, model in config["models"].items()}


def sample_size_comparisons():
    """Comparisons whose PCC is traced against the number of proxy images."""
    return {
        name: comparison
        for name, comparison in config["analysis"]["comparisons"].items()
        if comparison["sample_size"] and "miou" in comparison["metrics"]
    }


def sample_size_shards():
    """{(model, proxy test set): [shard files]} of the proxies of sample_size_comparisons()."""
    proxies = {
        proxy
        for comparison in sample_size_comparisons().values()
        for proxy in comparison["proxies"]
    }
    return {
        key: paths for key, paths in evaluation_shards().items() if key[1] in proxies
    }


def confidence_map_model():
    return config["analysis"]["confidence_maps"]["model"] or next(
        iter(config["models"])
    )


def analysis_outputs():
    """Every table and figure of the analyse stage (only those the config can feed)."""
    analysis = config["analysis"]
    comparisons = analysis["comparisons"]
    outputs = [
        f"results/figures/reliability/{figure}.png" for figure in RELIABILITY_FIGURES
    ]
    if config["models"]:
        outputs.append(f"results/figures/confidence_maps/{confidence_map_model()}.png")
        outputs += [
            f"results/figures/reliability/ablation_{name}.png"
            for name, on in ablations_asked().items()
            if on
        ]
    if comparisons:
        outputs.append("results/tables/correlations.csv")
        outputs += ["results/tables/realism.csv"] if REALISM_PAIRS else []
        outputs += [f"results/figures/correlation/{name}.png" for name in comparisons]
        overview = analysis["pcc_overview"]["metric"]
        if any(
            overview in comparison["metrics"] for comparison in comparisons.values()
        ):
            outputs.append("results/figures/pcc_overview.png")
            outputs += ["results/figures/realism.png"] if realism_has_pcc() else []
    robust = analysis["robust_models"]["comparison"]
    if robust in comparisons:
        outputs.append(f"results/figures/robust_models/{robust}.png")
    if sample_size_comparisons():
        outputs.append("results/figures/sample_size.png")
    if RARE_DOMAINS["domains"]:
        outputs.append("results/figures/rare_domains.png")
    if ANOMALY_DATASETS and config["models"]:
        outputs.append("results/figures/inpainting_control.png")
    if REFERENCE_DATASETS and GENERATED_DATASETS and config["models"]:
        outputs.append("results/tables/fidelity.csv")
    return outputs


def realism_has_pcc():
    """Whether a generated proxy with FID / KID is correlated on the overview's metric."""
    metric = config["analysis"]["pcc_overview"]["metric"]
    correlated = {
        (proxy, comparison["real"])
        for comparison in config["analysis"]["comparisons"].values()
        if metric in comparison["metrics"]
        for proxy in comparison["proxies"]
    }
    return any(
        (pair["test_set"], pair["against"]) in correlated
        for pair in REALISM_PAIRS
        if pair["role"] == "real counterpart"
    )


def test_sets_of(dataset):
    """The test sets reading ``dataset``."""
    return [
        name for name, spec in config["test_sets"].items() if spec["dataset"] == dataset
    ]


def fidelity_test_sets():
    """{domain (generator): its test set} of the generated domains, and the reference test set."""
    domains = {
        generated_label(name): test_set
        for name in GENERATED_DATASETS
        for test_set in test_sets_of(name)
    }
    return domains, test_sets_of(REFERENCE_DATASETS[0])[0]


def anomaly_test_sets():
    """{label: test set} of the inpainted sets, objects first and the control last."""
    kinds = {"all": "OOD objects", "curated": "OOD objects (curated)"}
    kinds["control"] = f"control: {config['generation']['anomalies']['control']}"
    found = {}
    for kind, label in kinds.items():
        for name, spec in config["test_sets"].items():
            if config["datasets"][spec["dataset"]].get("anomalies") == kind:
                found[label if label not in found else f"{label} ({name})"] = name
    return found


def test_sets_without(*kinds):
    """The test sets that are none of ``kinds`` (corruption: the stress stage's corrupted copies;
    attack: its attacked sets, made per model in the evaluation): RELIS' figures compare the
    others, and only the attack figures show attacked images."""
    return [
        name
        for name, spec in config["test_sets"].items()
        if not any(kind in spec for kind in kinds)
    ]


def realism_test_sets():
    """The test sets of the realism pairs, each once."""
    return list(
        dict.fromkeys(
            name
            for pair in REALISM_PAIRS
            for name in (pair["against"], pair["test_set"])
        )
    )


def realism_inputs():
    """The datasets the realism pairs read."""
    return sorted(
        {
            dataset_input(config["test_sets"][name]["dataset"])
            for name in realism_test_sets()
        }
    )
