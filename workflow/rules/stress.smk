# Stage "stress": corrupted copies of test sets (evaluated by the evaluate stage as any test set),
# mIoU per corruption, GAM per model, and which proxy family predicts each real shift best.


include: "functions/stress.smk"


rule stress_dataset:
    """A corrupted copy of one test set (test_sets.<name>.corruption): one pass over its images,
    read by every model's evaluation."""
    input:
        data=lambda wildcards: dataset_input(
            STRESSED_DATASETS[wildcards.dataset]["dataset"]
        ),
        code=library_code("stress_dataset.py"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/stress/stress_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/stress/stress_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(map(re.escape, STRESSED_DATASETS)) or "^$",
    conda:
        "../../envs/stress.yaml"
    params:
        spec=lambda wildcards: stressed_set(wildcards.dataset),
    script:
        "../scripts/stress_dataset.py"


rule stress_corruptions:
    """mIoU of every model on every corrupted variant of stress.test_set."""
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("stress_corruptions.py"),
    output:
        "results/tables/stress/corruptions.csv",
    log:
        "results/logs/stress/stress_corruptions.log",
    benchmark:
        "results/benchmarks/stress/stress_corruptions.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        corrupted=corrupted_test_sets(),
        clean=STRESS["test_set"],
    script:
        "../scripts/stress_corruptions.py"


rule stress_gam:
    """GAM per model: the worst mIoU over SemSegBench's 15 corruptions at stress.severity."""
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("stress_gam.py"),
    output:
        "results/tables/stress/gam.csv",
    log:
        "results/logs/stress/stress_gam.log",
    benchmark:
        "results/benchmarks/stress/stress_gam.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        gam_sets=GAM_TEST_SETS,
        clean=STRESS["test_set"],
    script:
        "../scripts/stress_gam.py"


rule proxy_study:
    """Loiseau Table 1 extended: the PCC of every proxy family with each real shift."""
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("proxy_study.py"),
    output:
        "results/tables/stress/proxies.csv",
    log:
        "results/logs/stress/proxy_study.log",
    benchmark:
        "results/benchmarks/stress/proxy_study.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        shifts=STRESS["proxy_study"],
        families=proxy_families(config),
        settings={
            "confidence_level": config["analysis"]["confidence_level"],
            "resamples": config["analysis"]["bootstrap_resamples"],
            "seed": config["analysis"]["seed"],
        },
    script:
        "../scripts/proxy_study.py"


rule plot_stress:
    input:
        table=lambda wildcards: STRESS_FIGURE_TABLES[wildcards.figure],
        code=library_code("plot_stress.py"),
    output:
        png=report(
            "results/figures/stress/{figure}.png",
            caption="../report/stress.rst",
            category="Stress tests",
            labels={"figure": "{figure}"},
        ),
        pdf="results/figures/stress/{figure}.pdf",
        data="results/tables/figures/stress/{figure}.csv",
    log:
        "results/logs/stress/plot_stress/{figure}.log",
    benchmark:
        "results/benchmarks/stress/plot_stress/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(STRESS_FIGURE_TABLES),
    conda:
        "../../envs/analyse.yaml"
    params:
        severity=STRESS["severity"],
        curves=STRESS["curves"]["corruptions"],
        families=model_families(),
    script:
        "../scripts/plot_stress.py"


rule stress:
    """Target of the stress stage: its tables and figures."""
    input:
        stress_outputs(),
