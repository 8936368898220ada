# Stage "analyse": correlations over models (proxy vs real shift), their sample-size
# stability, and every figure. Plotting rules read only tables, so editing a figure re-runs
# only that figure.


include: "functions/analyse.smk"


rule correlations:
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("correlations.py"),
    output:
        report(
            "results/tables/correlations.csv",
            caption="../report/correlations.rst",
            category="Tables",
        ),
    log:
        "results/logs/analyse/correlations.log",
    benchmark:
        "results/benchmarks/analyse/correlations.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        comparisons=config["analysis"]["comparisons"],
        confidence_level=config["analysis"]["confidence_level"],
        resamples=config["analysis"]["bootstrap_resamples"],
        seed=config["analysis"]["seed"],
    script:
        "../scripts/correlations.py"


rule sample_size:
    input:
        metrics="results/tables/metrics.csv",
        shards=[path for paths in sample_size_shards().values() for path in paths],
        code=library_code("sample_size.py"),
    output:
        "results/tables/sample_size.csv",
    log:
        "results/logs/analyse/sample_size.log",
    benchmark:
        "results/benchmarks/analyse/sample_size.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        comparisons=sample_size_comparisons(),
        shards=sample_size_shards(),
        excluded_classes=excluded_classes(),
        sizes=config["analysis"]["sample_sizes"],
        repeats=config["analysis"]["sample_repeats"],
        seed=config["analysis"]["seed"],
    script:
        "../scripts/sample_size.py"


rule label_map_fidelity:
    """How well the generated images follow their label maps: per model and domain, mIoU on the
    generated images over mIoU on the real images of the same maps."""
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("label_map_fidelity.py"),
    output:
        report(
            "results/tables/fidelity.csv",
            caption="../report/fidelity.rst",
            category="Tables",
        ),
    log:
        "results/logs/analyse/label_map_fidelity.log",
    benchmark:
        "results/benchmarks/analyse/label_map_fidelity.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        domains=lambda wildcards: fidelity_test_sets()[0],
        reference=lambda wildcards: fidelity_test_sets()[1],
    script:
        "../scripts/label_map_fidelity.py"


rule realism:
    """How real the synthetic data is: FID and KID of each generated proxy against its real target,
    and of a generated domain and its target against the real images of its maps."""
    input:
        data=lambda wildcards: realism_inputs(),
        code=library_code("realism.py"),
    output:
        report(
            "results/tables/realism.csv",
            caption="../report/realism.rst",
            category="Tables",
        ),
    log:
        "results/logs/analyse/realism.log",
    benchmark:
        "results/benchmarks/analyse/realism.tsv"
    conda:
        "../../envs/generate.yaml"
    resources:
        gpu=1,
    params:
        pairs=REALISM_PAIRS,
        sets=lambda wildcards: evaluated_test_sets(realism_test_sets()),
        settings={
            key: value
            for key, value in config["analysis"]["realism"].items()
            if key != "device"
        },
        device=config["analysis"]["realism"]["device"],
    script:
        "../scripts/realism.py"


rule plot_realism:
    """FID / KID of each generated proxy beside its PCC_syn: does a closer distribution give a
    better proxy?"""
    input:
        realism="results/tables/realism.csv",
        correlations="results/tables/correlations.csv",
        code=library_code("plot_realism.py"),
    output:
        png=report(
            "results/figures/realism.png",
            caption="../report/realism_pcc.rst",
            category="Loiseau et al. 2024",
            subcategory="Proxy vs real shift",
            labels={"figure": "FID / KID vs PCC", "comparison": "all"},
        ),
        pdf="results/figures/realism.pdf",
        data="results/tables/figures/realism.csv",
    log:
        "results/logs/analyse/plot_realism.log",
    benchmark:
        "results/benchmarks/analyse/plot_realism.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        metric=config["analysis"]["pcc_overview"]["metric"],
    script:
        "../scripts/plot_realism.py"


rule plot_correlation:
    input:
        metrics="results/tables/metrics.csv",
        correlations="results/tables/correlations.csv",
        code=library_code("plot_correlation.py"),
    output:
        png=report(
            "results/figures/correlation/{comparison}.png",
            caption="../report/correlation.rst",
            category="Loiseau et al. 2024",
            subcategory="Proxy vs real shift",
            labels={"figure": "Fig. 1/3/8/9", "comparison": "{comparison}"},
        ),
        pdf="results/figures/correlation/{comparison}.pdf",
        data="results/tables/figures/correlation/{comparison}.csv",
    log:
        "results/logs/analyse/plot_correlation/{comparison}.log",
    benchmark:
        "results/benchmarks/analyse/plot_correlation/{comparison}.tsv"
    wildcard_constraints:
        comparison="|".join(config["analysis"]["comparisons"]) or "^$",
    conda:
        "../../envs/analyse.yaml"
    params:
        comparison=lambda wildcards: config["analysis"]["comparisons"][
            wildcards.comparison
        ],
        families=model_families(),
    script:
        "../scripts/plot_correlation.py"


rule plot_pcc_overview:
    input:
        correlations="results/tables/correlations.csv",
        code=library_code("plot_pcc_overview.py"),
    output:
        png=report(
            "results/figures/pcc_overview.png",
            caption="../report/pcc_overview.rst",
            category="Loiseau et al. 2024",
            subcategory="Proxy vs real shift",
            labels={"figure": "Fig. 3 (top)", "comparison": "all"},
        ),
        pdf="results/figures/pcc_overview.pdf",
        data="results/tables/figures/pcc_overview.csv",
    log:
        "results/logs/analyse/plot_pcc_overview.log",
    benchmark:
        "results/benchmarks/analyse/plot_pcc_overview.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        metric=config["analysis"]["pcc_overview"]["metric"],
    script:
        "../scripts/plot_pcc_overview.py"


rule plot_robust_models:
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("plot_robust_models.py"),
    output:
        png=report(
            "results/figures/robust_models/{comparison}.png",
            caption="../report/robust_models.rst",
            category="Loiseau et al. 2024",
            subcategory="Most robust models",
            labels={"figure": "Fig. 4", "comparison": "{comparison}"},
        ),
        pdf="results/figures/robust_models/{comparison}.pdf",
        data="results/tables/figures/robust_models/{comparison}.csv",
    log:
        "results/logs/analyse/plot_robust_models/{comparison}.log",
    benchmark:
        "results/benchmarks/analyse/plot_robust_models/{comparison}.tsv"
    wildcard_constraints:
        comparison="|".join(config["analysis"]["comparisons"]) or "^$",
    conda:
        "../../envs/analyse.yaml"
    params:
        comparison=lambda wildcards: config["analysis"]["comparisons"][
            wildcards.comparison
        ],
        settings=config["analysis"]["robust_models"],
        families=model_families(),
    script:
        "../scripts/plot_robust_models.py"


rule plot_sample_size:
    input:
        table="results/tables/sample_size.csv",
        code=library_code("plot_sample_size.py"),
    output:
        png=report(
            "results/figures/sample_size.png",
            caption="../report/sample_size.rst",
            category="Loiseau et al. 2024",
            subcategory="Sample size",
            labels={"figure": "Fig. 5"},
        ),
        pdf="results/figures/sample_size.pdf",
        data="results/tables/figures/sample_size.csv",
    log:
        "results/logs/analyse/plot_sample_size.log",
    benchmark:
        "results/benchmarks/analyse/plot_sample_size.tsv"
    conda:
        "../../envs/analyse.yaml"
    script:
        "../scripts/plot_sample_size.py"


rule plot_reliability:
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("plot_reliability.py"),
    output:
        png=report(
            "results/figures/reliability/{figure}.png",
            caption="../report/reliability.rst",
            category="RELIS (de Jorge et al. 2023)",
            subcategory="{figure}",
            labels={"figure": "{figure}"},
        ),
        pdf="results/figures/reliability/{figure}.pdf",
        data="results/tables/figures/reliability/{figure}.csv",
    log:
        "results/logs/analyse/plot_reliability/{figure}.log",
    benchmark:
        "results/benchmarks/analyse/plot_reliability/{figure}.tsv"
    wildcard_constraints:
        figure="|".join(RELIABILITY_FIGURES),
    conda:
        "../../envs/analyse.yaml"
    params:
        in_domain=config["evaluation"]["in_domain_test_set"],
        families=model_families(),
        test_sets=test_sets_without("corruption", "attack"),
    script:
        "../scripts/plot_reliability.py"


rule plot_ablation:
    """RELIS Figs. 10 and 11: the evaluation ablations (evaluation.ablations)."""
    input:
        ablations="results/tables/ablations.csv",
        code=library_code("plot_ablation.py"),
    output:
        png=report(
            "results/figures/reliability/ablation_{ablation}.png",
            caption="../report/ablation.rst",
            category="RELIS (de Jorge et al. 2023)",
            subcategory="ablations",
            labels={"figure": "{ablation}"},
        ),
        pdf="results/figures/reliability/ablation_{ablation}.pdf",
        data="results/tables/figures/reliability/ablation_{ablation}.csv",
    log:
        "results/logs/analyse/plot_ablation/{ablation}.log",
    benchmark:
        "results/benchmarks/analyse/plot_ablation/{ablation}.tsv"
    wildcard_constraints:
        ablation="calibration_pixels|confidence",
    conda:
        "../../envs/analyse.yaml"
    params:
        in_domain=config["evaluation"]["in_domain_test_set"],
    script:
        "../scripts/plot_ablation.py"


rule plot_confidence_maps:
    input:
        unpack(lambda wildcards: model_files(wildcards.model)),
        data=test_set_inputs(),
        code=library_code("plot_confidence_maps.py"),
    output:
        png=report(
            "results/figures/confidence_maps/{model}.png",
            caption="../report/confidence_maps.rst",
            category="Loiseau et al. 2024",
            subcategory="Qualitative",
            labels={"figure": "Fig. 10", "model": "{model}"},
        ),
        pdf="results/figures/confidence_maps/{model}.pdf",
        data="results/tables/figures/confidence_maps/{model}.csv",
    log:
        "results/logs/analyse/plot_confidence_maps/{model}.log",
    benchmark:
        "results/benchmarks/analyse/plot_confidence_maps/{model}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    resources:
        gpu=1,  # runs the model, on evaluation.device
    params:
        test_sets=evaluated_test_sets(test_sets_without("attack")),
        images=config["analysis"]["confidence_maps"]["images_per_test_set"],
        device=config["evaluation"]["device"],
    script:
        "../scripts/plot_confidence_maps.py"


rule plot_rare_domains:
    """Loiseau et al. Fig. 7: images generated in rare domains, each model's prediction."""
    input:
        configs=[model_files(name)["config"] for name in RARE_DOMAINS["models"]],
        checkpoints=[model_files(name)["checkpoint"] for name in RARE_DOMAINS["models"]],
        # one shard each (domain_generation_settings), in the order of params.domains
        domains=[domain_shards(domain)[0] for domain in RARE_DOMAINS["domains"]],
        code=library_code("plot_rare_domains.py"),
    output:
        png=report(
            "results/figures/rare_domains.png",
            caption="../report/rare_domains.rst",
            category="Loiseau et al. 2024",
            subcategory="Qualitative",
            labels={"figure": "Fig. 7"},
        ),
        pdf="results/figures/rare_domains.pdf",
        data="results/tables/figures/rare_domains.csv",
    log:
        "results/logs/analyse/plot_rare_domains.log",
    benchmark:
        "results/benchmarks/analyse/plot_rare_domains.tsv"
    conda:
        "../../envs/evaluate.yaml"
    resources:
        gpu=1,  # runs the models, on evaluation.device
    params:
        models=RARE_DOMAINS["models"],
        domains=list(RARE_DOMAINS["domains"]),
        texts=RARE_DOMAINS["domains"],
        device=config["evaluation"]["device"],
    script:
        "../scripts/plot_rare_domains.py"


rule analyse:
    """Target of the analyse stage: every table and figure."""
    input:
        analysis_outputs(),


# ---- OOD-object inpainting


rule plot_inpainting_control:
    """Loiseau et al. Fig. 11: OOD detection on inpainted OOD objects vs the in-domain control."""
    input:
        metrics="results/tables/metrics.csv",
        code=library_code("plot_inpainting_control.py"),
    output:
        png=report(
            "results/figures/inpainting_control.png",
            caption="../report/inpainting_control.rst",
            category="Loiseau et al. 2024",
            subcategory="Inpainted OOD objects",
            labels={"figure": "Fig. 11"},
        ),
        pdf="results/figures/inpainting_control.pdf",
        data="results/tables/figures/inpainting_control.csv",
    log:
        "results/logs/analyse/plot_inpainting_control.log",
    benchmark:
        "results/benchmarks/analyse/plot_inpainting_control.tsv"
    conda:
        "../../envs/analyse.yaml"
    params:
        test_sets=anomaly_test_sets(),
        # AUROC and AP (SMIYC's name for AUPR with the anomaly positive) of MSP, and FPR95
        metrics=["ood_auroc_msp", "ood_aupr_msp", "ood_fpr95_msp"],
    script:
        "../scripts/plot_inpainting_control.py"
