# Stage "generate": OOD-object inpainting (Loiseau et al. 2024 / GenVal's ood_objects): objects
# painted into real images, refined, then masked by Grounding DINO + SAM; datasets in SMIYC
# RoadAnomaly21 layout (evaluated like SMIYC).


rule inpaint_anomaly_shard:
    """One shard of an inpainted set ('objects' or the in-domain 'control'): inpaint, refine, detect."""
    input:
        unpack(
            lambda wildcards: {
                key: path
                for name in ["inpainting", *ANOMALY_DETECTION]
                for key, path in generator_files(name).items()
            }
        ),
        data=lambda wildcards: caption_set(ANOMALIES["source_set"])["root"],
        code=library_code("inpaint_anomaly_shard.py"),
    output:
        directory(
            "resources/synthetic_anomalies/{anomaly_set}/shard-{shard}-of-{shards}"
        ),
    log:
        "results/logs/generate/inpaint_anomaly_shard/{anomaly_set}/shard-{shard}-of-{shards}.log",
    benchmark:
        "results/benchmarks/generate/inpaint_anomaly_shard/{anomaly_set}/shard-{shard}-of-{shards}.tsv"
    wildcard_constraints:
        anomaly_set="objects|control",
        shard=r"\d+",
        shards=r"\d+",
    priority: 10
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        inpainting=generator_model("inpainting"),
        detector=generator_model("detector") if ANOMALY_DETECTION else None,
        segmenter=generator_model("segmenter") if ANOMALY_DETECTION else None,
        dataset=lambda wildcards: caption_set(ANOMALIES["source_set"]),
        objects=lambda wildcards: (
            ANOMALIES["objects"]
            if wildcards.anomaly_set == "objects"
            else [ANOMALIES["control"]]
        ),
        images=ANOMALIES["images"],
        seed=ANOMALIES["seed"],
        device=ANOMALIES["device"],
        void_square=ANOMALIES["void_square"],
        settings=ANOMALY_SAMPLE_SETTINGS,
    script:
        "../scripts/inpaint_anomaly_shard.py"


rule anomaly_dataset:
    """An inpainted set as one RoadAnomaly21-layout dataset: the detected (or curated) samples, renumbered."""
    input:
        shards=lambda wildcards: anomaly_shards(
            "control"
            if config["datasets"][wildcards.dataset]["anomalies"] == "control"
            else "objects"
        ),
        code=library_code("anomaly_dataset.py"),
    output:
        directory("resources/datasets/{dataset}"),
    log:
        "results/logs/generate/anomaly_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/generate/anomaly_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset="|".join(ANOMALY_DATASETS) or "^$",
    conda:
        "../../envs/generate.yaml"
    params:
        keep=lambda wildcards: (
            ANOMALIES["curated"]
            if config["datasets"][wildcards.dataset]["anomalies"] == "curated"
            else None
        ),
    script:
        "../scripts/anomaly_dataset.py"


rule inpainting_detections:
    """Per object: samples generated, detected and failed (failed ones are dropped), and curated."""
    input:
        objects=anomaly_shards("objects"),
        control=anomaly_shards("control"),
        code=library_code("inpainting_detections.py"),
    output:
        report(
            "results/tables/generate/inpainting_detections.csv",
            caption="../report/inpainting_detections.rst",
            category="Tables",
        ),
    log:
        "results/logs/generate/inpainting_detections.log",
    benchmark:
        "results/benchmarks/generate/inpainting_detections.tsv"
    conda:
        "../../envs/generate.yaml"
    params:
        curated=ANOMALIES["curated"],
    script:
        "../scripts/inpainting_detections.py"


rule curation_page:
    """Every detected inpainted sample with a checkbox: the page downloads the id list that
    generation.anomalies.curated reads (a static page; open results/curation/index.html).
    """
    input:
        shards=anomaly_shards("objects"),
        code=library_code("curation_page.py"),
    output:
        page="results/curation/index.html",
        thumbnails=directory("results/curation/thumbnails"),
    log:
        "results/logs/generate/curation_page.log",
    benchmark:
        "results/benchmarks/generate/curation_page.tsv"
    conda:
        "../../envs/generate.yaml"
    params:
        curated=ANOMALIES["curated"],
        thumbnail_size=192,
    script:
        "../scripts/curation_page.py"


rule plot_inpainting_samples:
    """The first inpainted samples: the square, the detected object mask."""
    input:
        data=[
            dataset_root(name)
            for name in ANOMALY_DATASETS
            if config["datasets"][name]["anomalies"] == "all"
        ],
        code=library_code("plot_inpainting_samples.py"),
    output:
        png=report(
            "results/figures/generate/inpainting_samples.png",
            caption="../report/inpainting_samples.rst",
            category="Loiseau et al. 2024",
            subcategory="Generation",
            labels={"figure": "inpainted OOD objects"},
        ),
        pdf="results/figures/generate/inpainting_samples.pdf",
        data="results/tables/figures/generate/inpainting_samples.csv",
    log:
        "results/logs/generate/plot_inpainting_samples.log",
    benchmark:
        "results/benchmarks/generate/plot_inpainting_samples.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        images=6,
    script:
        "../scripts/plot_inpainting_samples.py"
