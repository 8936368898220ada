"""The analyse stage and the report on a tiny but complete study (4 models, one a snapshot): every figure and
table, correlations against numpy, deterministic figures, partial re-runs, and the HTML report
rendered in headless Chromium."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.workflow

DEMO_DETECTORS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["detection"]["detectors"]

TINY_STUDY = {
    "datasets": {name: {"format": name, "source": "demo"} for name in ("cityscapes", "acdc", "idd", "smiyc", "coco")},
    "demo": {
        "seed": 1, "height": 64, "width": 128,
        "cityscapes": {"train": {"aachen": 4}, "val": {"frankfurt": 3}},
        "acdc": {"conditions": ["fog", "night"], "images": {"train": 2}},
        "idd": {"images": {"val": 2}},
        "smiyc": {"images": 2, "objects_per_image": [1, 1]},
        "coco": {"images": {"train2017": 4, "val2017": 3}},
    },
    "models": {
        "segformer_b0": {"family": "SegFormer", "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"},
        "fcn_r18": {"family": "FCN", "base": "fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py"},
        "bisenetv2": {"family": "BiSeNetV2", "base": "bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py"},
        # an earlier stop of segformer_b0's run (rule demo_model_snapshot)
        "segformer_b0_2it": {"family": "SegFormer", "snapshot_of": "segformer_b0", "training": {"iterations": 2}},
    },
    "model_training": {"iterations": 3, "batch_size": 2, "crop_size": [64, 128]},
    "test_sets": {
        "cityscapes_val": {"dataset": "cityscapes", "split": "val"},
        "acdc_fog": {"dataset": "acdc", "split": "train", "subset": "fog"},
        "acdc_night": {"dataset": "acdc", "split": "train", "subset": "night"},
        "idd_val": {"dataset": "idd", "split": "val"},
        # from the demo depth estimator's depth
        "idd_val-fog_3d-2": {"dataset": "idd", "split": "val", "corruption": {"name": "fog_3d", "severity": 2}},
        "smiyc_anomaly": {"dataset": "smiyc"},
    },
    "evaluation": {"calibration_pixels": 300, "batch_size": 2},
    "analysis": {
        "comparisons": {
            "fog": {"real": "acdc_fog", "proxies": ["cityscapes_val"]},
            "night": {"real": "acdc_night", "proxies": ["cityscapes_val", "acdc_fog"], "metrics": ["miou", "ece"]},
            "anomalies": {"real": "smiyc_anomaly", "proxies": ["idd_val"],
                          "metrics": ["ood_mean_entropy", "ood_auroc_msp"], "sample_size": False,
                          "layout": "overlay"},
        },
        "sample_sizes": [2, 3],
        "sample_repeats": 3,
        "bootstrap_resamples": 200,
        "robust_models": {"comparison": "night", "reference_family": "FCN"},
        "confidence_maps": {"model": "segformer_b0"},
    },
    "stress": {"test_set": "cityscapes_val",
               "corruptions": ["fog", "contrast", "near_focus", "low_light", "physics_fog", "physics_rain"],
               "curves": {"corruptions": ["fog"], "severities": [1]}, "scenarios": ["random_background", "grey"],
               "scenario_training": {"models": ["fcn_r18"], "images": 2, "iterations": 1, "batch_size": 2,
                                     "image_size": [64, 128], "crop_size": [64, 128]},
               "depth_estimator": {"source": "demo", "steps": 2, "resolution": 28},
               "attacks": {"methods": {"linf": ["pgd", "bim"], "l2": ["cospgd"]}, "iterations": 3, "images": 2},
               "proxy_study": {"fog": "acdc_fog", "night": "acdc_night"}},
    "detection": {
        # three of the demo's detectors, as config/config.yaml narrows them: two on Cityscapes, one on COCO
        "detectors": {name: spec for name, spec in DEMO_DETECTORS.items()
                      if name in ("faster_rcnn_r18", "fcos_r18", "faster_rcnn_r18_coco")},
        "test_sets": {"coco_val": {"dataset": "coco", "split": "val2017"}},
        "training": {"image_size": [64, 128], "iterations": 2, "batch_size": 2},
        "attacks": {"methods": {"linf": ["pgd", "bim"]}, "iterations": 2, "images": 2},
        "jobs": "per_detector",
    },
}

FIGURES = ["correlation/fog", "correlation/night", "correlation/anomalies", "pcc_overview", "robust_models/night",
           "sample_size",
           "reliability/shift_degradation", "reliability/ece_vs_error", "reliability/ood_detection",
           "reliability/ood_vs_miou",
           "reliability/misclassification", "confidence_maps/segformer_b0",
           "stress/corruptions", "stress/scenarios", "stress/severity_curves", "stress/gam", "stress/s_robust",
           "stress/proxies", "stress/attacks", "stress/attack_curves", "stress/rem",
           "stress/attacked_confidence/segformer_b0", "detect/corruptions", "detect/attacks", "detect/robustness"]


@pytest.fixture(scope="module")
def study(tmp_path_factory, snakemake):
    """A copy of the workflow (so a test may edit its code) and a workdir where it has run."""
    copy = tmp_path_factory.mktemp("workflow")
    shutil.copy(REPO / "Snakefile", copy / "Snakefile")
    for folder in ("workflow", "envs", "config"):
        shutil.copytree(REPO / folder, copy / folder, ignore=shutil.ignore_patterns("__pycache__"))
    workdir = tmp_path_factory.mktemp("study")

    def run(*args, **kwargs):
        return snakemake(workdir, TINY_STUDY, *args, snakefile=copy / "Snakefile", **kwargs)

    run("--cores", "2")
    return copy, workdir, run


def test_every_figure_and_table_is_made(study):
    _, workdir, _ = study
    for figure in FIGURES:
        png = workdir / "results" / "figures" / f"{figure}.png"
        assert Image.open(png).size[0] > 300, png
        assert (workdir / "results" / "figures" / f"{figure}.pdf").read_bytes().startswith(b"%PDF"), figure
        data = pd.read_csv(workdir / "results" / "tables" / "figures" / f"{figure}.csv")
        assert len(data) > 0, figure
    sample_size = pd.read_csv(workdir / "results" / "tables" / "sample_size.csv")
    assert set(sample_size["size"]) == {2, 3} and set(sample_size.comparison) == {"fog", "night"}


def test_correlations_match_numpy_on_the_metrics_table(study):
    _, workdir, _ = study
    metrics = pd.read_csv(workdir / "results" / "tables" / "metrics.csv")
    table = pd.read_csv(workdir / "results" / "tables" / "correlations.csv")
    assert len(table) == 1 + 2 * 2 + 2  # fog: miou; night: 2 proxies x 2 metrics; anomalies: 2 metrics
    value = metrics.fillna({"score": ""}).set_index(["measure", "score", "test_set", "model"]).value
    # the (measure, score) rows of each metric name of TINY_STUDY, as the README spells them
    rows_of = {"miou": ("miou", ""), "ece": ("ece", ""), "ood_mean_entropy": ("ood_mean_entropy", ""),
               "ood_auroc_msp": ("ood_auroc", "msp")}
    for row in table.itertuples():
        models = sorted(TINY_STUDY["models"])
        x = [value[(*rows_of[row.metric], row.proxy, m)] for m in models]
        y = [value[(*rows_of[row.metric], row.real, m)] for m in models]
        assert row.n_models == len(models) == 4
        np.testing.assert_allclose(row.pearson_r, np.corrcoef(x, y)[0, 1], atol=1e-12)
    # with the full image set, every subset is the whole set: PCC equals the full-set PCC
    sample_size = pd.read_csv(workdir / "results" / "tables" / "sample_size.csv")
    fog = table[(table.comparison == "fog") & (table.metric == "miou")].pearson_r.item()
    full = sample_size[(sample_size.comparison == "fog") & (sample_size["size"] == 3)].pearson_r
    np.testing.assert_allclose(full, fog, atol=1e-9)


def test_stress_tables_are_the_metrics_tables_corrupted_sets(study):
    """Each corruption of cityscapes_val is a test set every model is evaluated on, read from a
    corrupted copy that is corrupt() of each image (its depth from the demo's disparity files);
    GAM and the proxy study are the metrics table's mIoUs, by hand and by numpy."""
    import torch

    from segrel.core import formats
    from segrel.stress import corrupt
    from segrel.stress.corruptions import corruption_seed
    from segrel.stress.depth import cityscapes_depth

    _, workdir, _ = study
    datasets = workdir / "resources" / "datasets"
    clean = formats.list_samples("cityscapes", datasets / "cityscapes", "val")
    copy = formats.list_samples("cityscapes", datasets / "cityscapes_val-near_focus-3", "val")
    for original, corrupted in zip(clean, copy, strict=True):
        depth = cityscapes_depth(original.image).depth
        expected = corrupt(formats.read_image(original.image), "near_focus", 3,
                           corruption_seed(0, original.name, "near_focus", 3), depth=depth)
        assert np.array_equal(formats.read_image(corrupted.image), expected)
    miou = pd.read_csv(workdir / "results" / "tables" / "metrics.csv").query("measure == 'miou'").pivot(
        index="model", columns="test_set", values="value")
    stressed = [f"cityscapes_val-{name}-3" for name in TINY_STUDY["stress"]["corruptions"]] + [
        "cityscapes_val-fog-1", "cityscapes_val-random_background", "cityscapes_val-grey", "idd_val-fog_3d-2"]
    assert miou[stressed].notna().all().all() and len(miou) == 4
    gam = pd.read_csv(workdir / "results" / "tables" / "stress" / "gam.csv").set_index("model")
    worst = miou[["cityscapes_val-fog-3", "cityscapes_val-contrast-3"]].min(axis=1)  # the 15 common ones only
    np.testing.assert_allclose(gam.gam[worst.index], worst, atol=1e-12)
    proxies = pd.read_csv(workdir / "results" / "tables" / "stress" / "proxies.csv").set_index(["shift", "family"])
    assert set(proxies.loc["fog"].index) == {"Cityscapes val", "physics", "matched corruption", "2D mean"}
    assert set(proxies.loc["night"].index) == {"Cityscapes val", "matched corruption", "2D mean"}  # low_light
    mean_2d = miou[["cityscapes_val-fog-3", "cityscapes_val-contrast-3"]].mean(axis=1)
    np.testing.assert_allclose(proxies.pearson_r["fog", "2D mean"],
                               np.corrcoef(mean_2d, miou.acdc_fog)[0, 1], atol=1e-12)
    np.testing.assert_allclose(proxies.pearson_r["night", "matched corruption"],
                               np.corrcoef(miou["cityscapes_val-low_light-3"], miou.acdc_night)[0, 1], atol=1e-12)
    # S_robust of fcn_r18, trained further on the two scenarios' copies of 2 training images
    trained = pd.read_csv(workdir / "results" / "stress" / "scenario_evaluation" / "metrics.csv").query(
        "measure == 'miou'").pivot(index="model", columns="test_set", values="value")
    scenarios = ["cityscapes_val-random_background", "cityscapes_val-grey"]
    mu, cross, inner = miou.at["fcn_r18", "cityscapes_val"], miou.loc["fcn_r18", scenarios], trained.loc["fcn_r18"]
    robust = pd.read_csv(workdir / "results" / "tables" / "stress" / "s_robust.csv")
    np.testing.assert_allclose(robust.s_robust, 1 - np.mean((cross - mu) ** 2) - np.mean((inner[scenarios] - mu) ** 2),
                               atol=1e-12)
    assert len(formats.list_samples("cityscapes", datasets / "cityscapes_train-grey", "train")) == 2
    base = torch.load(workdir / "resources/models/fcn_r18/fcn_r18.pth", weights_only=False)["state_dict"]
    tuned = torch.load(workdir / "resources/scenario_models/fcn_r18/grey/fcn_r18.pth", weights_only=False)["state_dict"]
    assert base.keys() == tuned.keys() and any(not torch.equal(base[key], tuned[key]) for key in base)


def test_attack_tables_are_the_evaluations_attacked_sets(study):
    """Each attack of cityscapes_val is a test set every model is evaluated on with every metric;
    ReM is the worst of their mIoUs (by hand from the metrics table); BIM, which starts from the
    clean image, ends below its start, and every attacked mIoU is at most the model's clean mIoU
    on the same images."""
    _, workdir, _ = study
    metrics = pd.read_csv(workdir / "results" / "tables" / "metrics.csv")
    attacked = ["cityscapes_val-pgd-linf", "cityscapes_val-bim-linf", "cityscapes_val-cospgd-l2"]
    rows = metrics[metrics.test_set.isin(attacked)]
    assert {"miou", "ece", "prr", "image_ood_auroc"} <= set(rows.measure)
    assert (rows[rows.measure == "images"].value == 2).all()  # stress.attacks.images
    miou = metrics.query("measure == 'miou'").pivot(index="model", columns="test_set", values="value")
    rem = pd.read_csv(workdir / "results" / "tables" / "stress" / "rem.csv").set_index("model")
    np.testing.assert_allclose(rem.rem[miou.index], miou[attacked].min(axis=1), atol=1e-12)
    assert (rem.attacks == 3).all() and "gam" in rem
    curves = pd.read_csv(workdir / "results" / "tables" / "stress" / "attack_curves.csv")
    assert sorted(set(curves.iteration)) == [0, 1, 2, 3]
    last = curves[curves.iteration == 3].set_index(["model", "test_set"]).miou
    np.testing.assert_allclose(last, [miou.at[model, test_set] for model, test_set in last.index], atol=1e-12)
    bim = curves[curves.test_set == "cityscapes_val-bim-linf"].pivot(index="model", columns="iteration",
                                                                        values="miou")
    assert (bim[3] <= bim[0]).all() and (bim[3] < bim[0]).any(), bim
    # the clean mIoU beside each attack is on the attacked images (the first 2 of 3), from the
    # clean evaluation's per-image confusions: BIM's start, the unperturbed image, gives it too
    table = pd.read_csv(workdir / "results" / "tables" / "stress" / "attacks.csv")
    clean = table[table.test_set == "cityscapes_val-bim-linf"].set_index("model").clean_miou
    np.testing.assert_allclose(clean[bim.index], bim[0], atol=1e-9)
    assert (table.miou <= table.clean_miou + 1e-9).all()


def _coco_map(truth, found) -> float:
    """pycocotools' mAP of segrel Detections (label i = the i-th category of ``truth``, as mmdet's
    CityscapesDataset and CocoDataset number them)."""
    import contextlib
    import io

    from pycocotools.cocoeval import COCOeval

    categories = sorted(truth.getCatIds())
    results = [{"image_id": image_id, "category_id": categories[label], "score": float(score),
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]}
               for image_id, boxes, scores, labels in zip(found.image_ids, found.boxes, found.scores, found.labels)
               for (x1, y1, x2, y2), score, label in zip(boxes, scores, labels)]
    if not results:  # loadRes cannot take none: every box missed
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.params.imgIds = sorted(found.image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return round(float(evaluation.stats[0]), 3)


def test_detection_tables_are_pycocotools_on_the_saved_detections(study):
    """DetecBench on the tiny study: every (detector, test set of its label space) is in the
    detect metrics table, its mAP is pycocotools' COCOeval on the merged shard files, ReM / GAM
    are the worst attacked / corrupted mAP, and the clean mAP beside an attack is the clean
    detections' on the attacked images only; the COCO set has its own corrupted copies (not
    physics_rain) with the annotation file of val2017."""
    import contextlib
    import io

    from pycocotools.coco import COCO

    from segrel.detect.evaluation import load_merged

    _, workdir, _ = study
    tables = workdir / "results" / "tables" / "detect"
    metrics = pd.read_csv(tables / "metrics.csv")
    conditions = ["fog-3", "contrast-3", "near_focus-3", "low_light-3", "physics_fog-3", "physics_rain-3", "fog-1"]
    sets = {"cityscapes_val": ["cityscapes_val"] + [f"cityscapes_val-{c}" for c in conditions]  # no scenario
            + ["cityscapes_val-pgd-linf", "cityscapes_val-bim-linf"],
            "coco_val": ["coco_val"] + [f"coco_val-{c}" for c in conditions if c != "physics_rain-3"]
            + ["coco_val-pgd-linf", "coco_val-bim-linf"]}
    models = {"cityscapes_val": ["faster_rcnn_r18", "fcos_r18"], "coco_val": ["faster_rcnn_r18_coco"]}
    annotations = {"cityscapes_val": workdir / "resources/detection/cityscapes/instancesonly_filtered_gtFine_val.json",
                   "coco_val": workdir / "resources/datasets/coco/annotations/instances_val2017.json"}
    robustness = pd.read_csv(tables / "robustness.csv").set_index("model")
    for benchmark, names in sets.items():
        rows = metrics[metrics.benchmark == benchmark]
        assert sorted(rows.test_set.unique()) == sorted(names) and sorted(rows.model.unique()) == models[benchmark]
        attacked = names[-2:]
        assert (rows.set_index("test_set").images[attacked] == 2).all()
        with contextlib.redirect_stdout(io.StringIO()):
            truth = COCO(str(annotations[benchmark]))

        def detections(model, test_set):
            return load_merged([workdir / "results" / "detect" / "detections" / model / test_set / "shard-0-of-1.npz"])

        for row in rows.itertuples():
            found = detections(row.model, row.test_set)
            assert row.bbox_mAP == pytest.approx(_coco_map(truth, found), abs=1e-9), row
            clean = detections(row.model, benchmark).subset(found.image_names)
            assert row.clean_map_same_images == pytest.approx(_coco_map(truth, clean), abs=1e-9), row
        by_set = rows.pivot(index="model", columns="test_set", values="bbox_mAP")
        assert (robustness.benchmark[by_set.index] == benchmark).all()
        np.testing.assert_allclose(robustness.rem[by_set.index], by_set[attacked].min(axis=1), atol=1e-12)
        # GAM: the stress stage's set (SemSegBench's 15 common 2D corruptions at stress.severity)
        gam_sets = [f"{benchmark}-fog-3", f"{benchmark}-contrast-3"]
        np.testing.assert_allclose(robustness.gam[by_set.index], by_set[gam_sets].min(axis=1), atol=1e-12)
    copy = workdir / "resources" / "datasets" / "coco_val-fog-3"
    assert (copy / "annotations" / "instances_val2017.json").read_bytes() == annotations["coco_val"].read_bytes()


def test_figures_are_byte_identical_when_redrawn(study):
    _, workdir, run = study
    png = workdir / "results" / "figures" / "reliability" / "ece_vs_error.png"
    pdf = png.with_suffix(".pdf")
    before = png.read_bytes(), pdf.read_bytes()
    run("--cores", "1", "--forcerun", "plot_reliability", str(png.relative_to(workdir)))
    assert (png.read_bytes(), pdf.read_bytes()) == before


def planned_jobs(run) -> set[str]:
    """The rules a dry run would run (its job-count table: "<rule> <count>" lines)."""
    plan = run("-n", "--quiet", "rules").stdout
    return {parts[0] for parts in map(str.split, plan.splitlines())
            if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total"}


def plan_after_editing(copy, run, module: str) -> set[str]:
    """The rules a dry run plans once ``segrel/<module>`` is edited; the file (content and
    modification time) is put back afterwards, so that the next test starts from a finished run."""
    path = copy / "workflow" / "scripts" / "segrel" / module
    text, stat = path.read_text(), path.stat()
    assert "Nothing to be done" in run("-n").stdout
    try:
        path.write_text(text + "\n# edited\n")
        return planned_jobs(run)
    finally:
        path.write_text(text)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_editing_figure_code_reruns_only_plotting(study):
    copy, _, run = study
    jobs = plan_after_editing(copy, run, "analyse/figures.py")
    assert jobs and jobs <= {"plot_correlation", "plot_pcc_overview", "plot_robust_models", "plot_sample_size",
                             "plot_reliability", "plot_confidence_maps", "plot_stress", "plot_attacked_confidence",
                             "plot_detect", "all"}, jobs  # plot_detect draws with the stress stage's figure code
    assert "plot_correlation" in jobs and "evaluate_shard" not in jobs


def test_editing_statistics_reruns_the_correlations_and_nothing_upstream(study):
    """plot_correlation imports segrel.analyse.statistics (paired_values) without its rule
    naming it: the import closure finds it."""
    copy, _, run = study
    jobs = plan_after_editing(copy, run, "analyse/statistics.py")
    assert {"correlations", "sample_size", "plot_correlation", "plot_sample_size"} <= jobs, jobs
    assert not jobs & {"evaluate_shard", "merge_evaluation", "train_demo_model", "demo_dataset",
                       "plot_reliability", "plot_robust_models"}, jobs


def test_editing_code_no_evaluation_imports_replans_no_evaluation(study):
    copy, _, run = study
    for module in ("core/figures.py", "analyse/statistics.py"):
        jobs = plan_after_editing(copy, run, module)
        assert jobs and not jobs & {"evaluate_shard", "merge_evaluation", "demo_dataset"}, (module, jobs)
    for module in ("generate/figures.py", "core/captions.py"):  # no generate stage in this study
        assert plan_after_editing(copy, run, module) == set(), module
    # the scene generator is upstream of everything: the demo datasets are made again
    assert {"demo_dataset", "evaluate_shard"} <= plan_after_editing(copy, run, "data/demo/scenes.py")


def test_editing_a_metric_reruns_every_evaluation(study):
    """evaluate_shard imports segrel.evaluate.metrics only through segrel.evaluate.evaluation."""
    copy, _, run = study
    jobs = plan_after_editing(copy, run, "evaluate/metrics.py")
    assert {"evaluate_shard", "merge_evaluation", "correlations"} <= jobs, jobs
    assert not jobs & {"train_demo_model", "demo_dataset"}, jobs


def test_report_renders_in_headless_chromium(study, tmp_path):
    _, workdir, run = study
    report = workdir / "report.html"
    run("--report", str(report))
    html = report.read_text()
    for figure in FIGURES:
        assert Path(figure).name + ".png" in html, f"{figure} missing from the report"
    browser = shutil.which("chromium-headless-shell") or shutil.which("chromium")
    assert browser, ("headless Chromium is needed to check the report: run `make browser` "
                     "(Debian's chromium-headless-shell)")
    shot = tmp_path / "report.png"
    subprocess.run([browser, "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,900",
                    f"--screenshot={shot}", report.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10, "the report renders blank"
    dom = subprocess.run([browser, "--no-sandbox", "--disable-gpu", "--dump-dom", "--virtual-time-budget=5000",
                          report.as_uri()], check=True, capture_output=True, text=True, timeout=120).stdout
    rendered = re.sub(r"<script.*?</script>", "", dom, flags=re.S)  # what the page drew, not its data
    for category in ("Loiseau et al. 2024", "RELIS (de Jorge et al. 2023)", "Tables", "DetecBench"):
        assert category in rendered, f"category {category!r} not rendered"
