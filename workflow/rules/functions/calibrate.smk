# Helper functions and constants of stage "calibrate", used by ../calibrate.smk. They also use
# test_set_spec / evaluated_test_sets / models_evaluated_by / EVALUATION_SETTINGS
# (functions/evaluate.smk), which the Snakefile includes first.
from segrel.calibrate import checks as calibrate_checks

CALIBRATION = config["calibration"]
CALIBRATION_SETS = CALIBRATION["sets"]
CALIBRATION_IN_DOMAIN = (
    CALIBRATION["in_domain_test_set"] or config["evaluation"]["in_domain_test_set"]
)

for warning in calibrate_checks.oracle_warnings(config):
    logger.warning(f"segrel: {warning}")


def fitted_methods(name):
    """(numbers of clusters, local TS settings or None) a calibration set fits."""
    wanted = CALIBRATION_SETS[name]["methods"]
    clusters = CALIBRATION["clustering"]["clusters"] if "clustering" in wanted else []
    local = "local" in wanted and CALIBRATION["local"]["enabled"]
    return clusters, CALIBRATION["local"] if local else None


def calibration_methods(name):
    """The calibrators a calibration set fits, by name (segrel.calibrate.fitting)."""
    clusters, local = fitted_methods(name)
    return calibrate_checks.calibrator_names(clusters, local is not None)


def calibration_settings(name):
    """What segrel.calibrate.fitting.CalibrationSettings takes for one calibration set."""
    clusters, local = fitted_methods(name)
    return {
        "pixels": CALIBRATION["pixels"],
        "seed": CALIBRATION["seed"],
        "batch_size": config["evaluation"]["batch_size"],
        "temperature": CALIBRATION["temperature"],
        "clusters": clusters,
        "soft_clusters": CALIBRATION["clustering"]["soft"],
        "local": local,
        "augmentation": CALIBRATION_SETS[name]["augmentation"],
        "max_images": CALIBRATION_SETS[name]["max_images"],
        "images": [
            {
                **source,
                "format": config["datasets"][source["dataset"]]["format"],
                "root": dataset_root(source["dataset"]),
                "unknown_ids": config["datasets"][source["dataset"]]["unknown_ids"],
            }
            for source in calibrate_checks.image_sources(config, name)
        ],
    }


def calibration_data(names):
    """The datasets the calibration sets ``names`` read (each once; see dataset_input)."""
    return sorted(
        {
            dataset_input(source["dataset"])
            for name in names
            for source in calibrate_checks.image_sources(config, name)
        }
    )


def calibrator_file(model, name):
    return f"results/calibration/{model}/{name}.pt"


def calibrations_of(test_set):
    """[(calibration set, method)] evaluated on ``test_set``."""
    return [
        (name, method)
        for name in CALIBRATION_SETS
        if test_set in calibrate_checks.evaluated_test_sets(config, name)
        for method in calibration_methods(name)
    ]


def calibrated_test_sets():
    """Test sets some calibrator is evaluated on, in config order."""
    return [name for name in config["test_sets"] if calibrations_of(name)]


def calibrated_shard_folder(
    test_set, model="{model}", shard="{shard}", shards="{shards}"
):
    """A calibrated evaluation job's output for one test set: a folder of one state file per
    calibrator, <calibration set>/<method>.npz (default: the job's wildcards)."""
    return (
        f"results/calibration/evaluation/{model}/{test_set}/shard-{shard}-of-{shards}"
    )


def calibrated_evaluation_shards():
    """{(model, calibration set, method, test set): [shard state files]}."""
    shards = config["evaluation"]["shards"]
    return {
        (model, name, method, test_set): [
            f"{calibrated_shard_folder(test_set, model, shard, shards)}/{name}/{method}.npz"
            for shard in range(shards)
        ]
        for model in config["models"]
        for test_set in calibrated_test_sets()
        for name, method in calibrations_of(test_set)
    }


def calibrated_evaluation_folders():
    shards = config["evaluation"]["shards"]
    return [
        calibrated_shard_folder(test_set, model, shard, shards)
        for model in config["models"]
        for test_set in calibrated_test_sets()
        for shard in range(shards)
    ]


def calibration_outputs():
    """The calibrate stage's table and figures (none while no calibration set is configured)."""
    if not CALIBRATION_SETS or not config["models"]:
        return []
    outputs = ["results/tables/calibration.csv"] + [
        f"results/figures/calibration/{figure}.png" for figure in calibration_figures()
    ]
    if temperature_map_set():
        outputs.append("results/figures/calibration/temperature_maps.png")
    return outputs


def temperature_map_set():
    """The calibration set of RELIS Fig. 21: the first one with local TS evaluated on
    calibration.temperature_maps.test_set (None: no figure)."""
    test_set = CALIBRATION["temperature_maps"]["test_set"]
    return next(
        (name for name, method in calibrations_of(test_set) if method == "local"),
        None,
    )


def temperature_map_model():
    return CALIBRATION["temperature_maps"]["model"] or confidence_map_model()


def calibration_figures():
    """The calibration figures the config can feed."""
    figures = ["ece_after_calibration", "methods", "rejection_and_ood"]
    if CALIBRATION["clustering"]["clusters"]:
        figures.append("clusters")
    if CALIBRATION["synthetic_vs_real"]:
        figures.append("synthetic_vs_real")
    return figures


# calibrated states: the evaluation's settings without its ablations (RELIS Figs. 10 / 11 are
# about the uncalibrated evaluation)
CALIBRATED_EVALUATION_SETTINGS = {
    **EVALUATION_SETTINGS,
    "ablations": {"calibration_pixels": [], "negative_entropy": False},
}
