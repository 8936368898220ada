"""The calibrate stage against independent references: temperature scaling against brute force
over RELIS' grid with Guo et al.'s ECE routine, scipy's minimiser of the NLL and a
miscalibration of known size; clustering against sklearn's KMeans; local TS against the
published architecture and a toy problem only a local temperature solves; calibrated evaluation
against Guo's ECE of the scaled softmax; the config checks."""

import shutil
import types

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from references import ece_reference
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from segrel.calibrate import checks, fit_temperature, relative_ece_improvement
from segrel.calibrate.calibrators import (
    Temperature,
    as_transforms,
    load_calibrators,
    model_fingerprint,
    save_calibrators,
)
from segrel.calibrate.clustering import backbone_features, cluster_temperature, fit_clusters
from segrel.calibrate.fitting import CalibrationData, CalibrationSettings, fit
from segrel.calibrate.local import LocalTemperatureScaling, LocalTraining, held_out_nll, train_local_temperature
from segrel.calibrate.temperature import TemperatureGrid
from segrel.core import formats
from segrel.evaluate import evaluation


def calibrated_pixels(n: int, scale: float, seed: int = 0):
    """Logits of a perfectly calibrated model (labels drawn from its softmax), multiplied by
    ``scale`` (over-confident for scale > 1), and the labels, with some void."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(size=(n, 5)) * 1.5
    labels = np.array([rng.choice(5, p=p) for p in softmax(true_logits, axis=1)])
    labels[rng.random(n) < 0.1] = 255
    return true_logits * scale, labels


def test_ece_grid_search_is_relis_brute_force():
    logits, labels = calibrated_pixels(3000, 2.0)
    keep = labels != 255
    correct = logits[keep].argmax(1) == labels[keep]

    def ece_at(t):  # Guo et al.'s ECE on the tempered softmax
        return ece_reference(softmax(logits[keep] / t, axis=1).max(1), correct)

    # RELIS: start from T = 1, a grid point wins only with a strictly lower ECE
    best_t, best = 1.0, ece_at(1.0)
    for t in np.arange(0.5, 10, 0.01):
        if ece_at(t) < best - 1e-12:
            best_t, best = float(t), ece_at(t)
    assert fit_temperature(logits, labels, "ece") == pytest.approx(best_t, abs=1e-9)


def test_nll_fit_is_scipys_minimum_and_undoes_a_known_miscalibration():
    logits, labels = calibrated_pixels(20000, 3.0, seed=1)
    keep = labels != 255

    def nll(t):
        return -log_softmax(logits[keep] / t, axis=1)[np.arange(keep.sum()), labels[keep]].mean()

    reference = minimize_scalar(nll, bounds=(0.05, 20), method="bounded", options={"xatol": 1e-8}).x
    fitted = fit_temperature(logits, labels, "nll")
    assert fitted == pytest.approx(reference, rel=1e-5)
    assert fitted == pytest.approx(3.0, rel=0.05)  # logits x 3 of a calibrated model
    assert fit_temperature(logits, labels, "ece") == pytest.approx(3.0, rel=0.1)
    # labels read as ints whatever their dtype; void ignored, not a class
    assert fit_temperature(logits.astype(np.float32), labels.astype(np.uint8), "nll") == pytest.approx(fitted, rel=1e-4)


def test_refusals_and_the_relative_improvement():
    logits, labels = calibrated_pixels(50, 1.0)
    with pytest.raises(ValueError, match="unknown temperature fit 'brier'; known: ece, nll"):
        fit_temperature(logits, labels, "brier")
    with pytest.raises(ValueError, match="no labelled pixel"):
        fit_temperature(logits, np.full(50, 255))
    assert relative_ece_improvement(0.08, 0.02) == pytest.approx(0.75)
    assert relative_ece_improvement(0.02, 0.03) == pytest.approx(-0.5)


def test_clusters_are_sklearn_kmeans_assignments():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8)) * 5
    features = np.concatenate([centre + rng.normal(size=(30, 8)) * 0.3 for centre in centres])
    fitted = fit_clusters(features, 3, seed=0)
    reference = KMeans(3, n_init=10, random_state=0).fit(features)
    assert adjusted_rand_score(fitted.labels_, reference.labels_) == 1.0
    # a new image takes its nearest centre's temperature, as KMeans.predict assigns it
    temperatures = np.array([1.0, 2.0, 3.0])
    for point in centres + rng.normal(size=(3, 8)) * 0.3:
        expected = temperatures[fitted.predict(point[None])[0]]
        assert cluster_temperature(point, fitted.cluster_centers_, temperatures, soft=False) == expected
    with pytest.raises(ValueError, match="4 clusters need at least 4 calibration images, the set has 3"):
        fit_clusters(features[:3], 4, seed=0)


class TinySegmentor(torch.nn.Module):
    def __init__(self, with_backbone=True):
        super().__init__()
        if with_backbone:
            self.backbone = torch.nn.Conv2d(3, 4, 1)

    def forward(self, x):
        return (self.backbone(x) * 0.5, self.backbone(x))  # stages: the last one is read


def test_backbone_feature_is_relis_sum_over_space_divided_by_max():
    model = TinySegmentor()
    images = torch.rand(2, 3, 5, 7)
    with backbone_features(model) as collected:
        model(images)
        model(images)  # slide inference: a second crop pass adds up
    expected = (model.backbone(images).sum(dim=(2, 3)) * 2).double().detach().numpy()
    np.testing.assert_allclose(collected.features(), expected / expected.max(axis=1, keepdims=True), rtol=1e-6)
    with pytest.raises(ValueError, match="has no backbone module to cluster images by"):
        with backbone_features(TinySegmentor(with_backbone=False), "fcn"):
            pass


def test_local_ts_is_the_published_architecture():
    # LTS_CamVid_With_Image: eight 5x5 convolutions of the 12 CamVid logits and one of the image
    assert sum(p.numel() for p in LocalTemperatureScaling(12).parameters()) == 8 * (12 * 25 + 1) + 3 * 25 + 1
    module = LocalTemperatureScaling(19)
    assert sum(p.numel() for p in module.parameters()) == 8 * (19 * 25 + 1) + 3 * 25 + 1
    logits, image = torch.randn(2, 19, 9, 11), torch.randn(2, 3, 9, 11)
    temperature = module(logits, image)
    assert temperature.shape == (2, 9, 11) and torch.allclose(temperature, torch.full_like(temperature, 2.0))
    # with any weights, the published forward: each convolution on its own, the gated tree
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0, 0.05)
        t1, t2, t3, t4 = (conv(logits) + 1 for conv in module.temperature_branches)
        p1, p2, p3 = (conv(logits) for conv in module.tree_gates)
        level_11 = t1 * torch.sigmoid(p1) + t2 * (1 - torch.sigmoid(p1))
        level_12 = t3 * torch.sigmoid(p2) + t4 * (1 - torch.sigmoid(p2))
        temp_1 = level_11 * torch.sigmoid(p3) + level_12 * (1 - torch.sigmoid(p3))
        temp_2 = module.image_branch(image) + 1
        gate = torch.sigmoid(module.image_gate(logits))
        published = torch.relu(temp_1 * gate + temp_2 * (1 - gate) + 1) + 1e-8
        torch.testing.assert_close(module(logits, image), published[:, 0])


def spatially_miscalibrated_images(n: int, seed: int):
    """Images whose left half is over-confident (logits x 4) and right half under-confident
    (x 0.5); the image's first channel tells the halves apart."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        true_logits = rng.normal(size=(5, 16, 16))
        probs = softmax(true_logits, axis=0)
        labels = (probs.cumsum(0) > rng.random((1, 16, 16))).argmax(0)
        logits = true_logits.copy()
        logits[:, :, :8] *= 4
        logits[:, :, 8:] *= 0.5
        image = np.zeros((3, 16, 16))
        image[0, :, :8] = 1.0
        images.append((torch.tensor(logits, dtype=torch.float32), torch.tensor(image, dtype=torch.float32),
                       torch.tensor(labels, dtype=torch.uint8)))
    return images


class OneTemperature(torch.nn.Module):
    def __init__(self, temperature: float):
        super().__init__()
        self.temperature = temperature

    def forward(self, logits, image):
        return torch.full(logits.shape[:1] + logits.shape[2:], self.temperature)


def test_local_ts_training_lowers_held_out_nll_and_resumes(tmp_path):
    """Trained as RELIS trains it (Adam, early stopping on held-out NLL), LTS ends well below its
    starting point (T = 2 everywhere) and the uncalibrated logits on images it never saw."""
    train, unseen = spatially_miscalibrated_images(40, 0), spatially_miscalibrated_images(8, 1)
    settings = LocalTraining(epochs=20, held_out=0.25, learning_rate=1e-3, batch_size=4, patience=20)
    module, report = train_local_temperature(train, settings, log=lambda message: None)
    assert held_out_nll(module, unseen) < 0.97 * held_out_nll(OneTemperature(2.0), unseen)
    assert held_out_nll(module, unseen) < 0.8 * held_out_nll(OneTemperature(1.0), unseen)
    assert report["train_images"] == 30 and report["held_out_images"] == 10 and report["epochs"] == 20
    # resumable: a run stopped after 8 epochs and resumed ends where the whole run ends
    short = LocalTraining(**{**settings.__dict__, "epochs": 8})
    train_local_temperature(train, short, tmp_path / "lts", resume_key="k", log=lambda message: None)
    resumed, _ = train_local_temperature(train, settings, tmp_path / "lts", resume_key="k", log=lambda m: None)
    for name, value in module.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value)


def test_clustering_ts_finds_each_clusters_temperature():
    """Two kinds of images (features far apart), over-confident by x3 and calibrated: one
    temperature per cluster recovers both, where one temperature for all cannot."""
    data = CalibrationData()
    for index in range(8):
        scale = 3.0 if index % 2 else 1.0
        logits, labels = calibrated_pixels(3000, scale, seed=index)
        data.logits.append(torch.tensor(logits, dtype=torch.float32))
        data.labels.append(labels)
        data.features.append(np.r_[1.0, 0.1] if index % 2 else np.r_[0.1, 1.0])
    settings = CalibrationSettings(temperature_fit="nll", clusters=(1, 2), seed=0)
    calibrators, report = fit(data, settings, log=lambda message: None)
    assert sorted(calibrators) == ["clustering_k1", "clustering_k2", "temperature"]
    assert calibrators["clustering_k1"].temperatures.tolist() == [calibrators["temperature"].value]
    by_kind = {kind: calibrators["clustering_k2"].temperature(None, feature=feature)
               for kind, feature in (("over", np.r_[1.0, 0.1]), ("calibrated", np.r_[0.1, 1.0]))}
    assert by_kind["over"] == pytest.approx(3.0, rel=0.08) and by_kind["calibrated"] == pytest.approx(1.0, rel=0.08)
    assert sorted(report["clustering_k2"]["images"]) == [4, 4]
    too_few = CalibrationData(logits=[torch.zeros(10, 5)], labels=[np.zeros(10, int)], features=[np.ones(2)])
    with pytest.raises(ValueError, match="has 10 labelled pixels, too few to fit a temperature on"):
        fit(too_few, settings)


def test_calibrators_are_refused_for_another_model(tmp_path):
    model, other = TinySegmentor(), TinySegmentor()
    path = tmp_path / "cs.pt"
    with open(path, "wb") as handle:
        save_calibrators(handle, "segformer_b0", model_fingerprint(model), {"temperature": Temperature(1.5)}, {})
    assert load_calibrators(path, "segformer_b0", model_fingerprint(model)) == {"temperature": Temperature(1.5)}
    with pytest.raises(ValueError, match=r"fitted on model 'segformer_b0' \(weights .*\), not on 'segformer_b0'"):
        load_calibrators(path, "segformer_b0", model_fingerprint(other))
    with pytest.raises(ValueError, match="not on 'fcn_r18'"):
        load_calibrators(path, "fcn_r18", model_fingerprint(model))


def test_calibrated_evaluation_is_the_evaluation_of_the_scaled_logits(tmp_path, monkeypatch):
    """One forward pass feeds the plain state and each calibrator's: with every pixel drawn,
    a temperature's ECE is Guo et al.'s ECE of softmax(logits / T), its confusion the plain one."""
    rng = np.random.default_rng(0)
    samples, all_logits = [], {}
    for index in range(3):
        ids = rng.choice([7, 8, 11, 21, 23, 0], size=(8, 16)).astype(np.uint8)
        label = tmp_path / f"img{index}_gtFine_labelIds.png"
        Image.fromarray(ids).save(label)
        samples.append(formats.Sample(f"img{index}", tmp_path / f"img{index}.png", label, "city"))
        all_logits[f"img{index}"] = torch.from_numpy(rng.normal(size=(19, 8, 16)) * 3).float()
    passes = []

    def fake_infer(model, images, perturb=None):
        passes.append(images)
        return [types.SimpleNamespace(seg_logits=types.SimpleNamespace(data=all_logits[image.rsplit("/", 1)[1][:-4]]),
                                      pred_sem_seg=types.SimpleNamespace(
                                          data=all_logits[image.rsplit("/", 1)[1][:-4]].argmax(0)[None]))
                for image in images]

    monkeypatch.setattr(evaluation, "infer", fake_infer)
    monkeypatch.setattr("segrel.models.segmentors.output_kind", lambda cfg: "logits")
    model = types.SimpleNamespace(cfg=None, parameters=lambda: [torch.zeros(3)],
                                  data_preprocessor=types.SimpleNamespace(mean=torch.zeros(3), std=torch.ones(3)))
    transforms, features = as_transforms({"": None, "ts": Temperature(2.5), "one": Temperature(1.0)}, model)
    assert features is None  # no clustering TS: no backbone hook
    states = evaluation.evaluate_transformed_shard(model, "cityscapes", samples, transforms, batch_size=2,
                                                   calibration_pixels=1000, seed=0)
    assert len(passes) == 2  # 3 images, batches of 2: one pass per image for all three states
    labels = np.concatenate([formats.to_labels("cityscapes", formats.read_ids(s.label).ravel()) for s in samples])
    logits = torch.cat([all_logits[s.name].flatten(1).T for s in samples]).double().numpy()
    keep = labels != 255
    correct = logits[keep].argmax(1) == labels[keep]
    for key, temperature in (("", 1.0), ("ts", 2.5), ("one", 1.0)):
        expected = ece_reference(softmax(logits[keep] / temperature, axis=1).max(1), correct)
        assert states[key].calibration.ece() == pytest.approx(expected, abs=1e-5)
        np.testing.assert_array_equal(states[key].confusion, states[""].confusion)
    assert states["ts"].calibration.ece() != pytest.approx(states[""].calibration.ece(), abs=1e-3)


def calibration_config(sets, test_sets=None, pairings=None):
    test_sets = test_sets or {"cityscapes_val": {"dataset": "cityscapes", "split": "val", "subset": "frankfurt"},
                              "acdc_fog": {"dataset": "acdc", "split": "train", "subset": "fog"}}
    return {"datasets": {"cityscapes": {}, "acdc": {}}, "test_sets": test_sets,
            "calibration": {"sets": sets, "synthetic_vs_real": pairings or {}}}


def calibration_set(images, test_sets=(), methods=("temperature",)):
    return {"images": images, "test_sets": list(test_sets), "methods": list(methods), "augmentation": "none"}


def test_config_checks_name_what_is_missing_and_warn_of_oracles():
    cs = {"dataset": "cityscapes", "split": "val", "subset": ["lindau", "munster"]}
    fog_val = {"dataset": "acdc", "split": "val", "subset": "fog"}
    config = calibration_config({"cs": calibration_set([cs]), "fog": calibration_set([fog_val], ["acdc_fog"]),
                                 "bad": calibration_set(["synthetic_fgo", {"dataset": "idd"}], ["acdc_fgo"])},
                                pairings={"fog": {"test_set": "acdc_fog", "synthetic": "syn", "real": "cs"}})
    problems = checks.config_problems(config)
    assert "config key 'calibration.sets.bad.images': no test set named 'synthetic_fgo'" in problems[0]
    assert "no dataset named 'idd'" in problems[1]
    assert "config key 'calibration.sets.bad.test_sets': no test set named 'acdc_fgo'" in problems[2]
    assert "config key 'calibration.synthetic_vs_real.fog.synthetic': no calibration set named 'syn'" in problems[3]
    assert len(problems) == 4  # 'cs' is evaluated everywhere, so on acdc_fog too
    del config["calibration"]["sets"]["bad"]  # (the workflow stops at the problems first)
    assert checks.oracle_warnings(config) == []  # other cities, other split
    config["calibration"]["sets"] = {"fog": calibration_set([{"dataset": "acdc", "split": "train", "subset": "*"}])}
    assert checks.oracle_warnings(config) == [
        "calibration set 'fog' shares images with test set 'acdc_fog' (acdc train): its results there are an oracle's"]


TINY_CALIBRATION = {
    "demo": {
        "seed": 1, "height": 64, "width": 128,
        "cityscapes": {"train": {"aachen": 4}, "val": {"frankfurt": 2, "lindau": 3}},
        "idd": {"images": {"train": 2, "val": 2}},
    },
    "datasets": {"cityscapes": {"format": "cityscapes", "source": "demo"}, "idd": {"format": "idd", "source": "demo"}},
    "models": {"segformer_b0": {"family": "SegFormer",
                                "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"}},
    "model_training": {"iterations": 2, "batch_size": 2, "crop_size": [64, 128]},
    "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val", "subset": "frankfurt"},
                  "idd_val": {"dataset": "idd", "split": "val"}},
    "evaluation": {"calibration_pixels": 300, "batch_size": 1},
    "analysis": {"comparisons": {}},
    "calibration": {
        "pixels": 500, "temperature": {"grid": {"step": 0.05}}, "clustering": {"clusters": [2]},
        "local": {"epochs": 2, "held_out": 0.34},
        "sets": {"cs": {"images": [{"dataset": "cityscapes", "split": "val", "subset": "lindau"}]},
                 "cs_aug": {"images": [{"dataset": "cityscapes", "split": "val", "subset": "lindau"}],
                            "augmentation": "photometric", "methods": ["temperature", "local"]},
                 "idd_train": {"images": [{"dataset": "idd", "split": "train"}], "methods": ["temperature"],
                               "test_sets": ["idd_val"]}},
        "synthetic_vs_real": {"india": {"test_set": "idd_val", "synthetic": "cs", "real": "idd_train"}},
    },
}


@pytest.mark.workflow
def test_calibrate_stage_end_to_end(snakemake, tmp_path):
    """The stage on one model: the fitted temperature is RELIS' grid search on the pixels the
    evaluation draws from mmseg's own inference; every calibrator's mIoU is the plain one; one
    job per model or per (model, set / test set) gives the same bytes."""
    from mmseg.apis import inference_model

    from segrel.evaluate.evaluation import draw_calibration_pixels
    from segrel.models.segmentors import load_model

    run = snakemake(tmp_path, TINY_CALIBRATION, "--cores", "2", "calibrate")
    table = pd.read_csv(tmp_path / "results" / "tables" / "calibration.csv").fillna({"score": ""})
    metrics = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv").fillna({"score": ""})
    value = table.set_index(["calibration_set", "method", "test_set", "measure", "score"]).value
    assert set(table.groupby(["calibration_set", "method"]).test_set.apply(lambda t: tuple(sorted(set(t))))) == {
        ("cityscapes_val", "idd_val"), ("idd_val",)}
    assert set(table.method) == {"temperature", "clustering_k2", "local"}
    plain = metrics.set_index(["test_set", "measure", "score"]).value
    for (name, method), group in table.groupby(["calibration_set", "method"]):
        for test_set in set(group.test_set):
            assert value[name, method, test_set, "miou", ""] == plain[test_set, "miou", ""]
    assert ("cs", "temperature", "idd_val", "image_ood_auroc", "") in value.index
    # the fitted temperature, from mmseg's inference on lindau's images and the evaluation's draws
    model_dir = tmp_path / "resources" / "models" / "segformer_b0"
    model = load_model(model_dir / "segformer_b0.py", model_dir / "segformer_b0.pth")
    logits, labels = [], []
    for sample in formats.list_samples("cityscapes", tmp_path / "resources" / "datasets" / "cityscapes", "val",
                                       "lindau"):
        label = formats.read_label("cityscapes", sample.label).ravel()
        picked = draw_calibration_pixels(0, sample.name, np.flatnonzero(label != 255), 500)
        logits.append(inference_model(model, str(sample.image)).seg_logits.data.flatten(1).T[picked].numpy())
        labels.append(label[picked])
    fits = pd.read_csv(tmp_path / "results" / "tables" / "calibration_fits.csv")
    fitted = fits.set_index(["calibration_set", "method", "quantity", "index"]).value
    expected = fit_temperature(np.concatenate(logits), np.concatenate(labels), "ece", TemperatureGrid(step=0.05))
    assert fitted["cs", "temperature", "temperature", 0] == pytest.approx(expected, abs=1e-9)
    assert fitted["cs", "temperature", "images", 0] == 3
    # Loiseau Fig. 6 and RELIS' figures are drawn
    figures = tmp_path / "results" / "figures" / "calibration"
    assert {p.name for p in figures.glob("*.png")} >= {"methods.png", "synthetic_vs_real.png", "clusters.png",
                                                       "ece_after_calibration.png", "rejection_and_ood.png"}
    assert "shares images" not in run.stderr  # no oracle: lindau is not the test set's city
    # one job per model: the same bytes
    by_test_set = (tmp_path / "results" / "tables" / "calibration.csv").read_bytes()
    per_model = {**TINY_CALIBRATION, "evaluation": {**TINY_CALIBRATION["evaluation"], "jobs": "per_model"}}
    plan = snakemake(tmp_path, per_model, "-n", "calibrate", "--quiet", "rules").stdout
    assert "fit_model_calibrators" in plan and "evaluate_calibrated_model" in plan
    shutil.rmtree(tmp_path / "results" / "calibration")
    snakemake(tmp_path, per_model, "--cores", "2", "calibrate")
    assert (tmp_path / "results" / "tables" / "calibration.csv").read_bytes() == by_test_set


def test_synthetic_vs_real_relative_improvement_by_hand():
    """Loiseau Fig. 6's numbers: (ECE_before - ECE_after) / ECE_before per model, shares in the titles."""
    from segrel.calibrate.figures import synthetic_vs_real_figure, with_uncalibrated

    rows = []
    for model, before in (("a", 0.2), ("b", 0.1)):
        rows += [{"model": model, "test_set": "acdc_fog", "measure": "ece", "score": "", "value": before},
                 {"model": model, "test_set": "acdc_fog", "measure": "miou", "score": "", "value": 0.3},
                 {"model": model, "test_set": "cityscapes_val", "measure": "miou", "score": "", "value": 0.6}]
    metrics = pd.DataFrame(rows)
    calibration = pd.DataFrame([{"model": model, "calibration_set": name, "method": "temperature",
                                 "test_set": "acdc_fog", "measure": "ece", "score": "", "value": value}
                                for model, name, value in (("a", "syn_fog", 0.1), ("a", "fog_val", 0.15),
                                                           ("b", "syn_fog", 0.12), ("b", "fog_val", 0.05))])
    pairings = {"fog": {"test_set": "acdc_fog", "synthetic": "syn_fog", "real": "fog_val"}}
    figure, data = synthetic_vs_real_figure(with_uncalibrated(calibration, metrics), pairings, "cityscapes_val")
    improvement = data.set_index(["model", "data"]).relative_improvement
    assert improvement["a", "synthetic"] == pytest.approx(0.5) and improvement["b", "synthetic"] == pytest.approx(-0.2)
    assert improvement["a", "real"] == pytest.approx(0.25) and improvement["b", "real"] == pytest.approx(0.5)
    assert figure.axes[0].get_title() == "fog: improved synthetic 1/2, real 2/2"


def test_relis_figures_take_the_best_model_of_each_family():
    from segrel.calibrate.figures import UNCALIBRATED, best_per_family

    table = pd.DataFrame([{"model": model, "calibration_set": UNCALIBRATED, "method": UNCALIBRATED,
                           "test_set": test_set, "measure": "miou", "score": "", "value": value}
                          for model, test_set, value in (("a", "cs", 0.5), ("b", "cs", 0.6), ("c", "cs", 0.3),
                                                         ("a", "fog", 0.9))])
    assert best_per_family(table, {"a": "FCN", "b": "FCN", "c": "PSPNet"}, "cs") == ["b", "c"]
