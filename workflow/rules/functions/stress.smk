# Helper functions and constants of stage "stress", used by ../stress.smk.
import re

from segrel.stress.catalogue import (
    PAINTED_SCENARIOS,
    family as corruption_family,
    stressed_name,
)
from segrel.stress.checks import (
    configured_attacks,
    configured_corruptions,
    depth_estimates,
    gam_test_sets,
    proxy_families,
    scenario_training_sets,
    stressed_datasets,
)

STRESS = config["stress"]
# {dataset: {dataset, split, subset, name, severity}} of every corrupted copy
STRESSED_DATASETS = stressed_datasets(config)
# those painted by the inpainting model (rule stress_painted_dataset), the others (stress_dataset)
PAINTED_DATASETS = [
    name
    for name, record in STRESSED_DATASETS.items()
    if record["name"] in PAINTED_SCENARIOS
]
COMPUTED_DATASETS = [name for name in STRESSED_DATASETS if name not in PAINTED_DATASETS]
GAM_TEST_SETS = gam_test_sets(config)
# {corrupted copy: (dataset, split) whose depth stress.depth_estimator estimates}
DEPTH_ESTIMATES = depth_estimates(config)
DEPTH_ESTIMATED_DATASETS = sorted({dataset for dataset, _ in DEPTH_ESTIMATES.values()})
DEPTH_ESTIMATOR = STRESS["depth_estimator"] or {}
# XImageNet-12's C'(i): {scenario: its copy of the train split} and the models trained on them
SCENARIO_TRAINING = STRESS["scenario_training"]
SCENARIO_TRAINING_SETS = scenario_training_sets(STRESS)
SCENARIO_MODELS = SCENARIO_TRAINING["models"] if SCENARIO_TRAINING_SETS else []
# {attacked test set: {attack, norm}} of stress.attacks (ReM's set)
ATTACKED_TEST_SETS = {
    name: {"attack": attack["name"], "norm": attack["norm"]}
    for name, attack in configured_attacks(STRESS).items()
}


def stressed_set(dataset):
    """What rule stress_dataset corrupts (segrel.stress.testsets.StressedSet's fields)."""
    record = STRESSED_DATASETS[dataset]
    source = config["datasets"][record["dataset"]]
    return {
        "format": source["format"],
        "root": dataset_root(record["dataset"]),
        "split": record["split"],
        "subset": record["subset"],
        "name": record["name"],
        "severity": record.get("severity"),  # none for a scenario
        "seed": STRESS["seed"],
        # a scenario copy of a train split has its own cap (stress.scenario_training.images)
        "images": record.get("images", STRESS["images"]),
        "unknown_ids": source["unknown_ids"],
        "depth_root": (
            depth_folder(*DEPTH_ESTIMATES[dataset])
            if dataset in DEPTH_ESTIMATES
            else None
        ),
    }


def depth_folder(dataset, split):
    """Where rule estimate_depth caches the estimated depth of a dataset's split."""
    return f"resources/depth/{dataset}/{split}"


# where the demo trains its depth estimator (rule demo_depth_estimator)
DEMO_DEPTH_ESTIMATOR = "resources/depth_estimator"


def depth_estimator_model():
    """What from_pretrained() gets for stress.depth_estimator (None when there is none)."""
    if not DEPTH_ESTIMATOR:
        return None
    return pretrained_model(DEPTH_ESTIMATOR, DEMO_DEPTH_ESTIMATOR)


def depth_estimator_files(wildcards):
    """The estimator as an input (none for a hub id, which the Hugging Face cache holds)."""
    return pretrained_files("estimator", DEPTH_ESTIMATOR, DEMO_DEPTH_ESTIMATOR)


def demo_estimator_settings():
    """segrel.stress.depth_estimation.DemoEstimatorSettings of a demo depth estimator."""
    keys = ("resolution", "max_depth", "steps", "batch_size", "learning_rate", "seed")
    return {key: DEPTH_ESTIMATOR[key] for key in keys if key in DEPTH_ESTIMATOR}


def corrupted_test_sets():
    """{test set: {corruption, family, severity}} of stress.test_set's corrupted variants."""
    return {
        stressed_name(STRESS["test_set"], name, severity): {
            "corruption": name,
            "family": corruption_family(name),
            "severity": severity,
        }
        for name, severity in configured_corruptions(STRESS)
    }


def attack_shards():
    """{(model, test set): [shard state files]} of stress.test_set and its attacked sets (the
    clean mIoU on an attacked set's images is read from the clean set's per-image confusions).
    """
    wanted = [STRESS["test_set"], *ATTACKED_TEST_SETS]
    return {
        key: paths
        for key, paths in evaluation_shards().items()
        if ATTACKED_TEST_SETS and key[1] in wanted
    }


def stress_figures():
    """The figures the config asks for (severity curves and GAM only with their corruptions)."""
    figures = ["corruptions"] if STRESS["corruptions"] else []
    figures += ["scenarios"] if STRESS["scenarios"] else []
    figures += ["severity_curves"] if STRESS["curves"]["corruptions"] else []
    figures += ["gam"] if GAM_TEST_SETS else []
    figures += ["s_robust"] if SCENARIO_MODELS else []
    figures += ["attacks", "attack_curves", "rem"] if ATTACKED_TEST_SETS else []
    return figures + (["proxies"] if STRESS["proxy_study"] else [])


STRESS_FIGURE_TABLES = {
    "corruptions": "results/tables/stress/corruptions.csv",
    "scenarios": "results/tables/stress/corruptions.csv",
    "severity_curves": "results/tables/stress/corruptions.csv",
    "gam": "results/tables/stress/gam.csv",
    "s_robust": "results/tables/stress/s_robust.csv",
    "proxies": "results/tables/stress/proxies.csv",
    "attacks": "results/tables/stress/attacks.csv",
    "attack_curves": "results/tables/stress/attack_curves.csv",
    "rem": "results/tables/stress/rem.csv",
}


def stress_outputs():
    """Every table and figure of the stress stage the config asks for."""
    figures = stress_figures()
    attacked = (
        [f"results/figures/stress/attacked_confidence/{confidence_map_model()}.png"]
        if ATTACKED_TEST_SETS and config["models"]
        else []
    )
    return (
        sorted({STRESS_FIGURE_TABLES[figure] for figure in figures})
        + [f"results/figures/stress/{figure}.png" for figure in figures]
        + attacked
    )


def scenario_test_sets():
    """{scenario: its test set} of the scenarios models are trained on."""
    return {
        scenario: stressed_name(STRESS["test_set"], scenario)
        for scenario in SCENARIO_TRAINING_SETS
    }


# a model trained further on a scenario's training copy: <stem>.py (config), <stem>.pth
SCENARIO_MODEL = "resources/scenario_models/{model}/{scenario}/{model}"


def scenario_model_files(model, scenario):
    """(config, checkpoint) of ``model`` trained further on ``scenario``'s training copy."""
    stem = SCENARIO_MODEL.format(model=model, scenario=scenario)
    return {"config": f"{stem}.py", "checkpoint": f"{stem}.pth"}


def scenario_schedule():
    """How each scenario model is trained (segrel.models.segmentors.TrainingSchedule)."""
    keys = ("image_size", "crop_size", "iterations", "batch_size", "learning_rate")
    keys += ("seed", "photometric_distortion", "resize_ratio")
    return {key: SCENARIO_TRAINING[key] for key in keys}


def scenario_evaluation_shards():
    """{(model, scenario test set): [shard state files]} of the scenario-trained models, each on
    its own scenario's test set only (merged under the model's own name)."""
    shards = config["evaluation"]["shards"]
    return {
        (model, test_set): [
            f"results/stress/evaluation/{model}/{scenario}/shard-{shard}-of-{shards}.npz"
            for shard in range(shards)
        ]
        for model in SCENARIO_MODELS
        for scenario, test_set in scenario_test_sets().items()
    }
