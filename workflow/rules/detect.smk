# Stage "detect" (DetecBench): object detectors on the clean, corrupted and attacked test sets,
# COCO mAP from the merged detections, ReM and GAM per detector.


include: "functions/detect.smk"


rule detection_annotations:
    """COCO-format boxes of a Cityscapes-layout dataset's split, from gtFine's instance ids (as
    mmdet's converter writes instancesonly_filtered_gtFine_<split>.json)."""
    input:
        data=lambda wildcards: dataset_input(wildcards.dataset),
        code=library_code("detection_annotations.py"),
    output:
        "resources/detection/{dataset}/instancesonly_filtered_gtFine_{split}.json",
    log:
        "results/logs/detect/detection_annotations/{dataset}/{split}.log",
    benchmark:
        "results/benchmarks/detect/detection_annotations/{dataset}/{split}.tsv"
    wildcard_constraints:
        dataset=r"[^/]+",
        split=r"[^/]+",
    conda:
        "../../envs/detect.yaml"
    params:
        root=lambda wildcards: dataset_root(wildcards.dataset),
    script:
        "../scripts/detection_annotations.py"


rule train_demo_detector:
    """A demo detector: mmdet's config trained here from scratch on the training dataset's boxes."""
    input:
        data=lambda wildcards: dataset_input(
            detector_training_data(wildcards.detector)[0]
        ),
        annotations=lambda wildcards: generated_annotations(
            detector_training_data(wildcards.detector)[0],
            LABEL_SPACES[DETECTOR_SPACES[wildcards.detector]].train_split,
        ),
        code=library_code("train_demo_detector.py"),
    output:
        **detector_files("{detector}"),
    log:
        "results/logs/detect/train_demo_detector/{detector}.log",
    benchmark:
        "results/benchmarks/detect/train_demo_detector/{detector}.tsv"
    wildcard_constraints:
        detector="|".join(map(re.escape, DEMO_DETECTORS)) or "^$",
    conda:
        "../../envs/detect.yaml"
    threads: DETECTION["training"]["threads"]
    resources:
        gpu=1,
    params:
        settings=detector_training_settings,
        data_root=lambda wildcards: dataset_root(
            detector_training_data(wildcards.detector)[0]
        ),
        ann_file=lambda wildcards: detector_training_data(wildcards.detector)[1],
    script:
        "../scripts/train_demo_detector.py"


rule fetch_detector:
    """A released mmdet detector (source zoo or url): its inference config and its verified
    checkpoint (downloaded once; no library code as input, as for zoo segmenters)."""
    output:
        **detector_files("{detector}"),
    log:
        "results/logs/detect/fetch_detector/{detector}.log",
    benchmark:
        "results/benchmarks/detect/fetch_detector/{detector}.tsv"
    wildcard_constraints:
        detector="|".join(map(re.escape, FETCHED_DETECTORS)) or "^$",
    retries: 2  # an interrupted download resumes from its .part file
    conda:
        "../../envs/detect.yaml"
    params:
        model=lambda wildcards: asdict(fetched_detector(DETECTORS[wildcards.detector])),
        mirror=config["zoo"]["mirror"],
        configs_dir=lambda wildcards: str(mmdet_config_dir()),
    script:
        "../scripts/fetch_zoo_model.py"


rule detect_shard:
    """One detector on one shard of one test set (detection.jobs: per_test_set): its detections."""
    input:
        unpack(lambda wildcards: detector_files(wildcards.detector)),
        data=lambda wildcards: detection_inputs([wildcards.test_set]),
        code=library_code("detect_shard.py"),
    output:
        "results/detect/detections/{detector}/{test_set}/shard-{shard}-of-{shards}.npz",
    log:
        "results/logs/detect/detect_shard/{detector}/{test_set}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/detect/detect_shard/{detector}/{test_set}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        detector=detectors_run_by("per_test_set"),
        shard=r"\d+",
        shards=r"\d+",
    conda:
        "../../envs/detect.yaml"
    threads: DETECTION["threads"]
    resources:
        gpu=1,
    params:
        test_sets=lambda wildcards: detection_test_set_params([wildcards.test_set]),
        shards=lambda wildcards: int(wildcards.shards),
        batch_size=DETECTION["batch_size"],
        device=DETECTION["device"],
    script:
        "../scripts/detect_shard.py"


# per_detector: one rule per label space, since a rule's outputs cannot depend on a wildcard
for label_space, space_test_sets in DETECTION_SETS_BY_SPACE.items():

    rule:
        """One detector on one shard of every test set of its label space, imports and the
        detector loaded once (detection.jobs: per_detector)."""
        name:
            f"detect_detector_{label_space}"
        input:
            unpack(lambda wildcards: detector_files(wildcards.detector)),
            data=detection_inputs(space_test_sets),
            code=library_code("detect_shard.py"),
        output:
            [
                f"results/detect/detections/{{detector}}/{name}/shard-{{shard}}-of-{{shards}}.npz"
                for name in space_test_sets
            ],
        log:
            "results/logs/detect/detect_detector/{detector}/shard-{shard}-of-{shards}.log",
        benchmark:
            "results/benchmarks/detect/detect_detector/{detector}/shard-{shard}-of-{shards}.tsv"
        wildcard_constraints:
            detector=detectors_run_by("per_detector", label_space),
            shard=r"\d+",
            shards=r"\d+",
        conda:
            "../../envs/detect.yaml"
        threads: DETECTION["threads"]
        resources:
            gpu=1,
        params:
            test_sets=detection_test_set_params(space_test_sets),
            shards=lambda wildcards: int(wildcards.shards),
            batch_size=DETECTION["batch_size"],
            device=DETECTION["device"],
        script:
            "../scripts/detect_shard.py"


rule detect_tables:
    """COCO mAP of every (detector, test set) from its merged shards; mAP per corruption and per
    attack beside the clean mAP on the same images; ReM and GAM per detector; mAP per attack
    iteration (detection.attacks.curves)."""
    input:
        [path for paths in detection_shards().values() for path in paths],
        annotations=detection_annotation_inputs(),
        code=library_code("detect_tables.py"),
    output:
        **({"attack_curves": DETECT_TABLES["attack_curves"]} if ATTACK_CURVES else {}),
        metrics=DETECT_TABLES["metrics"],
        corruptions=DETECT_TABLES["corruptions"],
        attacks=DETECT_TABLES["attacks"],
        robustness=report(
            DETECT_TABLES["robustness"],
            caption="../report/detect_table.rst",
            category="DetecBench",
        ),
    log:
        "results/logs/detect/detect_tables.log",
    benchmark:
        "results/benchmarks/detect/detect_tables.tsv"
    conda:
        "../../envs/detect.yaml"
    params:
        shards=detection_shards(),
        annotations=detection_annotation_files(),
        conditions=detection_conditions(),
    script:
        "../scripts/detect_tables.py"


rule plot_detect:
    input:
        table=lambda wildcards: DETECT_TABLES[detect_figures()[wildcards.figure]],
        code=library_code("plot_detect.py"),
    output:
        png=report(
            "results/figures/detect/{figure}.png",
            caption="../report/detect.rst",
            category="DetecBench",
            labels={"figure": "{figure}"},
        ),
        pdf="results/figures/detect/{figure}.pdf",
        data="results/tables/figures/detect/{figure}.csv",
    log:
        "results/logs/detect/plot_detect/{figure}.log",
    benchmark:
        "results/benchmarks/detect/plot_detect/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(detect_figures()) or "^$",
    conda:
        "../../envs/analyse.yaml"
    params:
        severity=STRESS["severity"],
        families=detector_families(),
    script:
        "../scripts/plot_detect.py"


rule detect:
    """Target of the detect stage: its tables and figures."""
    input:
        detect_outputs(),
