# Stage "calibrate": calibrators fitted per (model, calibration set), evaluated through the
# evaluation code (one more forward pass per test image for all of a model's calibrators).


include: "functions/calibrate.smk"


rule fit_calibrators:
    """A model's calibrators on one calibration set (evaluation.jobs: per_test_set)."""
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=lambda wildcards: calibration_data([wildcards.calibration_set]),
        code=library_code("fit_calibrators.py"),
    output:
        "results/calibration/{model}/{calibration_set}.pt",
    log:
        "results/logs/calibrate/fit_calibrators/{model}/{calibration_set}.log",
    benchmark:
        "results/benchmarks/calibrate/fit_calibrators/{model}/{calibration_set}.tsv"
    wildcard_constraints:
        model=models_evaluated_by("per_test_set"),
    conda:
        "../../envs/calibrate.yaml"
    threads: config["evaluation"]["threads"]
    resources:
        gpu=1,
    params:
        sets=lambda wildcards: {
            wildcards.calibration_set: calibration_settings(wildcards.calibration_set)
        },
        device=config["evaluation"]["device"],
    script:
        "../scripts/fit_calibrators.py"


use rule fit_calibrators as fit_model_calibrators with:
    """A model's calibrators on every calibration set, the model loaded once
    (evaluation.jobs: per_model)."""
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=calibration_data(CALIBRATION_SETS),
        code=library_code("fit_calibrators.py"),
    output:
        [f"results/calibration/{{model}}/{name}.pt" for name in CALIBRATION_SETS],
    log:
        "results/logs/calibrate/fit_model_calibrators/{model}.log",
    benchmark:
        "results/benchmarks/calibrate/fit_model_calibrators/{model}.tsv"
    wildcard_constraints:
        model=models_evaluated_by("per_model"),
    params:
        sets={name: calibration_settings(name) for name in CALIBRATION_SETS},
        device=config["evaluation"]["device"],


rule evaluate_calibrated_shard:
    """One model's calibrators on one shard of one test set: the plain evaluation's code, one
    forward pass for all of them (evaluation.jobs: per_test_set)."""
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=lambda wildcards: dataset_input(
            config["test_sets"][wildcards.test_set]["dataset"]
        ),
        calibrators=lambda wildcards: sorted(
            {
                calibrator_file(wildcards.model, name)
                for name, _ in calibrations_of(wildcards.test_set)
            }
        ),
        code=library_code("evaluate_calibrated.py"),
    output:
        directory(calibrated_shard_folder("{test_set}")),
    log:
        "results/logs/calibrate/evaluate_calibrated_shard/{model}/{test_set}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/calibrate/evaluate_calibrated_shard/{model}/{test_set}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model=models_evaluated_by("per_test_set"),
        test_set="|".join(calibrated_test_sets()) or "^$",
        shard=r"\d+",
        shards=r"\d+",
    conda:
        "../../envs/calibrate.yaml"
    threads: config["evaluation"]["threads"]
    resources:
        gpu=1,
    params:
        test_sets=lambda wildcards: evaluated_test_sets([wildcards.test_set]),
        calibrations=lambda wildcards: {
            wildcards.test_set: [
                f"{name}/{method}"
                for name, method in calibrations_of(wildcards.test_set)
            ]
        },
        shards=lambda wildcards: int(wildcards.shards),
        settings=CALIBRATED_EVALUATION_SETTINGS,
    script:
        "../scripts/evaluate_calibrated.py"


use rule evaluate_calibrated_shard as evaluate_calibrated_model with:
    """One model's calibrators on one shard of every calibrated test set, the model loaded once
    (evaluation.jobs: per_model)."""
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=sorted(
            {
                dataset_input(config["test_sets"][name]["dataset"])
                for name in calibrated_test_sets()
            }
        ),
        calibrators=lambda wildcards: [
            calibrator_file(wildcards.model, name) for name in CALIBRATION_SETS
        ],
        code=library_code("evaluate_calibrated.py"),
    output:
        [directory(calibrated_shard_folder(name)) for name in calibrated_test_sets()],
    log:
        "results/logs/calibrate/evaluate_calibrated_model/{model}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/calibrate/evaluate_calibrated_model/{model}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model=models_evaluated_by("per_model"),
        shard=r"\d+",
        shards=r"\d+",
    params:
        test_sets=evaluated_test_sets(calibrated_test_sets()),
        calibrations={
            test_set: [
                f"{name}/{method}" for name, method in calibrations_of(test_set)
            ]
            for test_set in calibrated_test_sets()
        },
        shards=lambda wildcards: int(wildcards.shards),
        settings=CALIBRATED_EVALUATION_SETTINGS,


rule merge_calibration:
    """Every calibrated state merged into one tidy table (columns of metrics.csv, plus the
    calibration set and method)."""
    input:
        calibrated_evaluation_folders(),
        calibrators=[
            calibrator_file(model, name)
            for model in config["models"]
            for name in CALIBRATION_SETS
        ],
        code=library_code("merge_calibration.py"),
    output:
        table="results/tables/calibration.csv",
        fits="results/tables/calibration_fits.csv",
    log:
        "results/logs/calibrate/merge_calibration.log",
    benchmark:
        "results/benchmarks/calibrate/merge_calibration.tsv"
    conda:
        "../../envs/evaluate.yaml"
    params:
        shards=calibrated_evaluation_shards(),
        in_domain=CALIBRATION_IN_DOMAIN,
        excluded_classes=excluded_classes(),
    script:
        "../scripts/merge_calibration.py"


rule plot_calibration:
    """RELIS' and Loiseau et al.'s calibration figures, each with its data table."""
    input:
        calibration="results/tables/calibration.csv",
        metrics="results/tables/metrics.csv",
        code=library_code("plot_calibration.py"),
    output:
        png=report(
            "results/figures/calibration/{figure}.png",
            caption="../report/calibration.rst",
            category="Calibration",
            labels={"figure": "{figure}"},
        ),
        pdf="results/figures/calibration/{figure}.pdf",
        data="results/tables/figures/calibration/{figure}.csv",
    log:
        "results/logs/calibrate/plot_calibration/{figure}.log",
    benchmark:
        "results/benchmarks/calibrate/plot_calibration/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(calibration_figures()) or "^$",
    conda:
        "../../envs/analyse.yaml"
    params:
        families=model_families(),
        synthetic_vs_real=CALIBRATION["synthetic_vs_real"],
        in_domain=CALIBRATION_IN_DOMAIN,
    script:
        "../scripts/plot_calibration.py"


rule plot_temperature_maps:
    """RELIS Fig. 21: local TS' temperature maps on a test set's first images."""
    input:
        unpack(lambda wildcards: model_files(temperature_map_model())),
        data=lambda wildcards: dataset_input(
            config["test_sets"][CALIBRATION["temperature_maps"]["test_set"]]["dataset"]
        ),
        calibrators=lambda wildcards: calibrator_file(
            temperature_map_model(), temperature_map_set()
        ),
        code=library_code("plot_temperature_maps.py"),
    output:
        png=report(
            "results/figures/calibration/temperature_maps.png",
            caption="../report/temperature_maps.rst",
            category="Calibration",
            labels={"figure": "temperature_maps"},
        ),
        pdf="results/figures/calibration/temperature_maps.pdf",
        data="results/tables/figures/calibration/temperature_maps.csv",
    log:
        "results/logs/calibrate/plot_temperature_maps.log",
    benchmark:
        "results/benchmarks/calibrate/plot_temperature_maps.tsv"
    conda:
        "../../envs/calibrate.yaml"
    resources:
        gpu=1,  # runs the model, on evaluation.device
    params:
        model=temperature_map_model(),
        calibration_set=temperature_map_set(),
        test_set=lambda wildcards: evaluated_test_sets(
            [CALIBRATION["temperature_maps"]["test_set"]]
        ),
        images=CALIBRATION["temperature_maps"]["images"],
        device=config["evaluation"]["device"],
    script:
        "../scripts/plot_temperature_maps.py"


rule calibrate:
    """Target of the calibrate stage: the calibration table and figures."""
    input:
        calibration_outputs(),
