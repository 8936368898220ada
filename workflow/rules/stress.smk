# Stage "stress": corrupted copies of test sets (evaluated by the evaluate stage as any test set),
# mIoU per corruption, GAM per model, S_robust of models trained on the background scenarios, and
# which proxy family predicts each real shift best.


include: "functions/stress.smk"


rule stress_dataset:
    """A corrupted copy of one test set (test_sets.<name>.corruption): one pass over its images,
    read by every model's evaluation."""
    input:
        data=lambda wildcards: dataset_input(
            STRESSED_DATASETS[wildcards.dataset]["dataset"]
        ),
        depth=lambda wildcards: (
            [depth_folder(*DEPTH_ESTIMATES[wildcards.dataset])]
            if wildcards.dataset in DEPTH_ESTIMATES
            else []
        ),
        code=library_code("stress_dataset.py"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/stress/stress_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/stress/stress_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(map(re.escape, COMPUTED_DATASETS)) or "^$",
    conda:
        "../../envs/stress.yaml"
    params:
        spec=lambda wildcards: stressed_set(wildcards.dataset),
    script:
        "../scripts/stress_dataset.py"


rule demo_depth_estimator:
    """The demo's tiny metric depth model (stress.depth_estimator source demo), trained on its own
    Cityscapes train split and true depth."""
    input:
        data=lambda wildcards: dataset_input(DEPTH_ESTIMATOR["train_dataset"]),
        code=library_code("demo_depth_estimator.py"),
    output:
        directory(DEMO_DEPTH_ESTIMATOR),
    log:
        "results/logs/stress/demo_depth_estimator.log",
    benchmark:
        "results/benchmarks/stress/demo_depth_estimator.tsv"
    conda:
        "../../envs/generate.yaml"
    params:
        settings=demo_estimator_settings(),
        data_root=lambda wildcards: dataset_root(DEPTH_ESTIMATOR["train_dataset"]),
    script:
        "../scripts/demo_depth_estimator.py"


rule estimate_depth:
    """Metric depth of every image of a dataset's split that ships none, estimated once by
    stress.depth_estimator for the depth-based corruptions."""
    input:
        unpack(depth_estimator_files),
        data=lambda wildcards: dataset_input(wildcards.dataset),
        code=library_code("estimate_depth.py"),
    output:
        directory(depth_folder("{dataset}", "{split}")),
    log:
        "results/logs/stress/estimate_depth/{dataset}/{split}.log",
    benchmark:
        "results/benchmarks/stress/estimate_depth/{dataset}/{split}.tsv"
    wildcard_constraints:
        dataset="|".join(map(re.escape, DEPTH_ESTIMATED_DATASETS)) or "^$",
        split=r"[^/]+",
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        estimator=depth_estimator_model(),
        format=lambda wildcards: config["datasets"][wildcards.dataset]["format"],
        root=lambda wildcards: dataset_root(wildcards.dataset),
        batch_size=DEPTH_ESTIMATOR.get("batch_size"),
        device=DEPTH_ESTIMATOR.get("device"),
    script:
        "../scripts/estimate_depth.py"


rule stress_painted_dataset:
    """A test set under scenario ai_background: each background repainted by the generation
    stage's inpainting model, the objects kept (a GPU job in the paper config)."""
    input:
        unpack(lambda wildcards: generator_files("inpainting")),
        data=lambda wildcards: dataset_input(
            STRESSED_DATASETS[wildcards.dataset]["dataset"]
        ),
        code=library_code("stress_painted_dataset.py"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/stress/stress_painted_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/stress/stress_painted_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(map(re.escape, PAINTED_DATASETS)) or "^$",
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        spec=lambda wildcards: stressed_set(wildcards.dataset),
        inpainting=generator_model("inpainting"),
        settings={
            key: value
            for key, value in STRESS["ai_background"].items()
            if key != "device"
        },
        device=STRESS["ai_background"]["device"],
    script:
        "../scripts/stress_painted_dataset.py"


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


rule stress_attacks:
    """mIoU per (model, attack), ReM per model (the worst attack; GAM beside it) and the mIoU
    after each attack iteration."""
    input:
        [path for paths in attack_shards().values() for path in paths],
        metrics="results/tables/metrics.csv",
        ablations="results/tables/ablations.csv",
        code=library_code("stress_attacks.py"),
    output:
        attacks="results/tables/stress/attacks.csv",
        rem="results/tables/stress/rem.csv",
        curves="results/tables/stress/attack_curves.csv",
    log:
        "results/logs/stress/stress_attacks.log",
    benchmark:
        "results/benchmarks/stress/stress_attacks.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        attacked=ATTACKED_TEST_SETS,
        gam_sets=GAM_TEST_SETS,
        clean=STRESS["test_set"],
        shards=attack_shards(),
        excluded_classes=lambda wildcards: config["test_sets"][STRESS["test_set"]][
            "excluded_classes"
        ],
    script:
        "../scripts/stress_attacks.py"


rule plot_attacked_confidence:
    """One model's prediction and confidence on the first image of stress.test_set, clean and
    under each attack (the adversarial example made again, as its evaluation made it).
    """
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=lambda wildcards: dataset_input(
            config["test_sets"][STRESS["test_set"]]["dataset"]
        ),
        code=library_code("plot_attacked_confidence.py"),
    output:
        png=report(
            "results/figures/stress/attacked_confidence/{model}.png",
            caption="../report/attacked_confidence.rst",
            category="Stress tests",
            labels={"figure": "attacked_confidence", "model": "{model}"},
        ),
        pdf="results/figures/stress/attacked_confidence/{model}.pdf",
        data="results/tables/figures/stress/attacked_confidence/{model}.csv",
    log:
        "results/logs/stress/plot_attacked_confidence/{model}.log",
    benchmark:
        "results/benchmarks/stress/plot_attacked_confidence/{model}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    resources:
        gpu=1,
    params:
        test_sets=lambda wildcards: evaluated_test_sets(
            [STRESS["test_set"], *ATTACKED_TEST_SETS]
        ),
        device=config["evaluation"]["device"],
    script:
        "../scripts/plot_attacked_confidence.py"


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


rule stress_scenario_model:
    """One model trained further on one background scenario's copy of the train split, from its
    own weights (XImageNet-12's C'(i) trains from scratch: see stress.scenario_training).
    """
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=lambda wildcards: dataset_input(SCENARIO_TRAINING_SETS[wildcards.scenario]),
        code=library_code("stress_scenario_model.py"),
    output:
        config=f"{SCENARIO_MODEL}.py",
        checkpoint=f"{SCENARIO_MODEL}.pth",
    log:
        "results/logs/stress/stress_scenario_model/{model}/{scenario}.log",
    benchmark:
        "results/benchmarks/stress/stress_scenario_model/{model}/{scenario}.tsv"
    wildcard_constraints:
        model="|".join(map(re.escape, SCENARIO_MODELS)) or "^$",
        scenario="|".join(SCENARIO_TRAINING_SETS) or "^$",
    conda:
        "../../envs/models.yaml"
    threads: config["model_training"]["threads"]
    resources:
        gpu=1,
    params:
        schedule=scenario_schedule(),
        data_root=lambda wildcards: dataset_root(
            SCENARIO_TRAINING_SETS[wildcards.scenario]
        ),
    script:
        "../scripts/stress_scenario_model.py"


use rule evaluate_shard as evaluate_scenario_model with:
    """A scenario-trained model on one shard of its own scenario's test set: C'(i)."""
    input:
        unpack(
            lambda wildcards: scenario_model_files(wildcards.model, wildcards.scenario)
        ),
        data=lambda wildcards: dataset_input(
            config["test_sets"][scenario_test_sets()[wildcards.scenario]]["dataset"]
        ),
        code=library_code("evaluate_shard.py"),
    output:
        "results/stress/evaluation/{model}/{scenario}/shard-{shard}-of-{shards}.npz",
    log:
        "results/logs/stress/evaluate_scenario_model/{model}/{scenario}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/stress/evaluate_scenario_model/{model}/{scenario}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        model="|".join(map(re.escape, SCENARIO_MODELS)) or "^$",
        scenario="|".join(SCENARIO_TRAINING_SETS) or "^$",
        shard=r"\d+",
        shards=r"\d+",
    params:
        test_sets=lambda wildcards: evaluated_test_sets(
            [scenario_test_sets()[wildcards.scenario]]
        ),
        shards=lambda wildcards: int(wildcards.shards),
        settings=EVALUATION_SETTINGS,


use rule merge_evaluation as merge_scenario_evaluation with:
    """The scenario-trained models' metrics, under their own models' names."""
    input:
        [path for paths in scenario_evaluation_shards().values() for path in paths],
        code=library_code("merge_evaluation.py"),
    output:
        metrics="results/stress/scenario_evaluation/metrics.csv",
        images="results/stress/scenario_evaluation/image_confidence.csv",
        ablations="results/stress/scenario_evaluation/ablations.csv",
    log:
        "results/logs/stress/merge_scenario_evaluation.log",
    benchmark:
        "results/benchmarks/stress/merge_scenario_evaluation.tsv"
    params:
        shards=scenario_evaluation_shards(),
        in_domain=None,
        excluded_classes={},


rule stress_s_robust:
    """S_robust per scenario-trained model: mu, C(i) and C'(i) for every scenario (XImageNet-12)."""
    input:
        metrics="results/tables/metrics.csv",
        trained="results/stress/scenario_evaluation/metrics.csv",
        code=library_code("stress_s_robust.py"),
    output:
        "results/tables/stress/s_robust.csv",
    log:
        "results/logs/stress/stress_s_robust.log",
    benchmark:
        "results/benchmarks/stress/stress_s_robust.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        scenarios=scenario_test_sets(),
        clean=STRESS["test_set"],
    script:
        "../scripts/stress_s_robust.py"


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
