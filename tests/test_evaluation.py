"""The evaluation stage: per-pixel scores, shard states and the settings they record, the tidy
metrics table and the registry of metric names, and a small real run of the workflow checked
against mmseg's own inference and IoU metric."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from references import ece_reference, published_prr
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import average_precision_score, roc_auc_score

from segrel.core import formats
from segrel.evaluate.evaluation import (
    Ablations,
    EvaluationState,
    _accumulate,
    load_merged,
    merge_shard_tables,
    pixel_scores,
)
from segrel.evaluate.metrics import DetectionAccumulator
from segrel.evaluate.metrics_table import METRIC_NAMES, metric_key, metric_name, read_metrics, select_metrics


def test_pixel_scores_against_direct_softmax():
    torch.manual_seed(0)
    logits = torch.randn(19, 8, 16) * 4
    logits[:, 0, 0] = torch.tensor([60.0] + [0.0] * 18)  # MSP rounds to 1 in float32
    scores = pixel_scores(logits)
    probs = torch.softmax(logits.double(), dim=0).numpy()
    np.testing.assert_array_equal(scores["prediction"].numpy(), probs.argmax(0))
    # float32 arithmetic against a float64 reference
    np.testing.assert_allclose(scores["confidence"].numpy(), probs.max(0), rtol=1e-5)
    np.testing.assert_allclose(scores["entropy"].numpy(), scipy_entropy(probs, axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(scores["max_logit"].numpy(), -logits.max(0).values.numpy(), rtol=1e-6)
    moderate = probs.max(0) < 0.999
    np.testing.assert_allclose(scores["msp"].numpy()[moderate], np.log1p(-probs.max(0)[moderate]), rtol=1e-4)
    # 1 - MSP = 18 exp(-60) / (1 + 18 exp(-60)): log(18) - 60, finite and ordered, where
    # float32 MSP is exactly 1 and log1p(-MSP) would be -inf
    assert scores["confidence"][0, 0].item() == 1.0
    assert scores["msp"][0, 0].item() == pytest.approx(np.log(18) - 60, abs=1e-4)


class Sample:
    def __init__(self, name, label):
        self.name, self.label, self.image = name, label, name


def cityscapes_shard(folder, part: int, calibration_pixels: int, seed: int = 0) -> EvaluationState:
    """A state of 2 random 16 x 32 Cityscapes images (about 5/6 of the pixels labelled)."""
    rng = np.random.default_rng(part)
    state = EvaluationState(kind="segmentation", calibration_pixels=calibration_pixels, seed=seed, batch_size=1)
    for index in range(2):
        label_path = folder / f"{part}_{index}_gtFine_labelIds.png"
        Image.fromarray(rng.choice([7, 8, 11, 21, 23, 0], size=(16, 32)).astype(np.uint8)).save(label_path)
        logits = torch.from_numpy(rng.normal(size=(19, 16, 32)))
        _accumulate(state, "cityscapes", Sample(f"img{part}{index}", label_path), logits, logits.argmax(0))
    return state


def test_state_roundtrip_and_merge(tmp_path):
    states = []
    for part in range(2):
        state = cityscapes_shard(tmp_path, part, calibration_pixels=200)
        state.save(tmp_path / f"shard{part}.npz")
        states.append(state)
    loaded = [EvaluationState.load(tmp_path / f"shard{part}.npz") for part in range(2)]
    assert loaded[0].metrics() == states[0].metrics()
    merged = loaded[0].merge(loaded[1])
    np.testing.assert_array_equal(merged.confusion, states[0].confusion + states[1].confusion)
    # per-image confusions: one per image, adding up to the total
    assert merged.image_confusion_array().shape == (4, 19, 19)
    np.testing.assert_array_equal(merged.image_confusion_array().sum(0), merged.confusion)
    assert merged.metrics()["images", ""] == 4.0
    # the state's own setting drew the pixels: 200 of the ~430 labelled ones per image
    assert merged.calibration.count.sum() == merged.calibration_relis.count.sum() == 4 * 200


def test_state_records_its_settings_and_binning(tmp_path):
    state = cityscapes_shard(tmp_path, 0, calibration_pixels=123, seed=7)
    state.detection["entropy"] = DetectionAccumulator(-1.0, 2.5, bins=64)  # not the default binning
    state.save(tmp_path / "state.npz")
    loaded = EvaluationState.load(tmp_path / "state.npz")
    settings = loaded.settings()
    assert (settings["kind"], settings["calibration_pixels"], settings["seed"], settings["batch_size"]) == (
        "segmentation", 123, 7, 1)
    assert settings["detection_entropy.range"] == [-1.0, 2.5, 64.0]
    assert settings["detection_msp.range"] == [-28.0, 0.0, 20_000.0]
    assert settings["calibration.bins"] == settings["calibration_relis.bins"] == [14_000, 8_000]
    assert loaded.detection["entropy"].positives.shape == (64,)


def test_merge_refuses_states_made_with_different_settings(tmp_path):
    paths = []
    for part, pixels in enumerate([200, 300]):
        paths.append(tmp_path / f"shard-{part}-of-2.npz")
        cityscapes_shard(tmp_path, part, calibration_pixels=pixels).save(paths[-1])
    with pytest.raises(ValueError) as error:
        load_merged(paths)
    message = str(error.value)
    assert f"cannot merge {paths[1]} into {paths[0]}" in message
    assert "calibration_pixels 300 vs 200" in message
    assert "seed" not in message  # only what differs is named
    # the binning of a detection histogram is a setting too
    first, second = (EvaluationState(kind="anomaly", calibration_pixels=200, seed=0, batch_size=1) for _ in range(2))
    second.detection["msp"] = DetectionAccumulator(-28.0, 0.0, bins=10)
    with pytest.raises(ValueError, match=r"detection_msp.range \[-28.0, 0.0, 10.0\] vs \[-28.0, 0.0, 20000.0\]"):
        first.merge(second)
    with pytest.raises(ValueError, match="kind segmentation vs anomaly"):
        first.merge(EvaluationState(kind="segmentation", calibration_pixels=200, seed=0, batch_size=1))
    with pytest.raises(ValueError, match="batch_size 4 vs 1"):  # batched passes differ in the last bits
        first.merge(EvaluationState(kind="anomaly", calibration_pixels=200, seed=0, batch_size=4))


# Every metric name a config may write, spelt out as the README does (an independent list).
EXPECTED_NAMES = {"images", "parameters", "miou", "ece", "adaptive_ece", "ks_error", "prr", "prr_relis", "accuracy",
                  "pixels", "image_confidence", "image_ood_auroc", "ood_mean_entropy"} | {
    f"ood_{measure}_{score}" for measure in ("auroc", "aupr", "aupr_negative", "fpr95")
    for score in ("msp", "entropy", "max_logit", "rba")}


def handmade_shard(path, kind: str, detection: dict | None = None, seed: int = 0) -> None:
    """A saved state fed directly: calibration pixels and image confidences for segmentation
    sets; for each score, the (scores, is_ood) pixels of ``detection``."""
    rng = np.random.default_rng(seed)
    state = EvaluationState(kind=kind, calibration_pixels=100, seed=0, batch_size=1,
                            ablations=Ablations(negative_entropy=True))
    state.image_names = [f"{path.stem}_{i}" for i in range(4)]
    if kind == "segmentation":
        state.confusion[np.diag_indices(19)] = rng.integers(1, 100, 19)
        confidence = rng.uniform(0.3, 1.0, 400)
        for acc in (state.calibration, state.calibration_relis, state.ablation["negative_entropy"]):
            acc.update(confidence, rng.random(400) < confidence)
        state.image_confidence = list(rng.uniform(0.5, 1.0, 4))
        state.image_entropy_confidence = list(rng.uniform(0.0, 1.0, 4))
    for score, (scores, is_ood) in (detection or {}).items():
        state.detection[score].update(scores, is_ood)
        state.ood_entropy += (1.0, 1)
    state.save(path)


def test_metrics_table_is_tidy_and_every_name_maps_to_its_rows(tmp_path):
    rng = np.random.default_rng(1)
    is_ood = rng.random(3000) < 0.2
    # one score separates perfectly, one not at all, one in reverse: a row under the wrong
    # score would show it
    detection = {"msp": (np.where(is_ood, -1.0, -20.0), is_ood),
                 "entropy": (rng.uniform(0.0, 2.9, is_ood.size) + 0.5 * is_ood, is_ood),
                 "max_logit": (np.where(is_ood, -50.0, 50.0), is_ood),
                 "rba": (rng.uniform(-19.0, 0.0, is_ood.size) + 3.0 * is_ood, is_ood)}
    shards = {}
    for model in ("a", "b"):
        for test_set, kind, pixels in (("clean", "segmentation", None), ("shifted", "segmentation", detection),
                                       ("anomalies", "anomaly", detection)):
            path = tmp_path / f"{model}_{test_set}.npz"
            handmade_shard(path, kind, pixels, seed=len(shards))
            shards[model, test_set] = [path]
    table, images, ablations = merge_shard_tables(shards, in_domain="clean")
    assert list(table.columns) == ["model", "test_set", "measure", "score", "value"]
    # image-level OOD detection with either image confidence, by sklearn
    clean, shifted = (images[(images.model == "a") & (images.test_set == name)] for name in ("clean", "shifted"))
    ablation = ablations.set_index(["model", "test_set", "ablation", "setting", "measure"]).value
    for column, setting in (("confidence", "msp"), ("negative_entropy_confidence", "negative_entropy")):
        expected = roc_auc_score([1] * 4 + [0] * 4, np.r_[clean[column], shifted[column]])
        assert ablation["a", "shifted", "confidence", setting, "image_ood_auroc"] == pytest.approx(expected)
    assert ablation["a", "shifted", "confidence", "msp", "prr"] == table.set_index(
        ["model", "test_set", "measure"]).value["a", "shifted", "prr"]
    table.to_csv(tmp_path / "metrics.csv", index=False)
    assert "a,anomalies,ood_auroc,msp," in (tmp_path / "metrics.csv").read_text()
    assert "a,clean,miou,," in (tmp_path / "metrics.csv").read_text()
    table = read_metrics(tmp_path / "metrics.csv")

    assert set(METRIC_NAMES) == EXPECTED_NAMES
    written = set(zip(table.measure, table.score))
    assert written == set(METRIC_NAMES.values())  # every name has rows, every row a name
    for name in EXPECTED_NAMES:
        measure, score = metric_key(name)
        assert metric_name(measure, score) == name
        rows = select_metrics(table, [name])
        assert len(rows) == len(table[(table.measure == measure) & (table.score == score)]) > 0
        assert (rows.metric == name).all()
        assert (score != "") == (name.startswith("ood_") and name != "ood_mean_entropy")

    value = table.set_index(["model", "test_set", "measure", "score"]).value
    for test_set in ("shifted", "anomalies"):
        assert value["a", test_set, "ood_auroc", "msp"] == 1.0
        assert value["a", test_set, "ood_auroc", "max_logit"] == 0.0
        entropy, _ = detection["entropy"]
        assert value["a", test_set, "ood_auroc", "entropy"] == pytest.approx(roc_auc_score(is_ood, entropy), abs=1e-3)
        assert value["a", test_set, "ood_aupr_negative", "entropy"] == pytest.approx(
            average_precision_score(~is_ood, -entropy), abs=1e-3)
        rba, _ = detection["rba"]
        assert value["a", test_set, "ood_auroc", "rba"] == pytest.approx(roc_auc_score(is_ood, rba), abs=1e-3)
    assert ("a", "clean", "image_ood_auroc", "") not in value.index
    assert ("a", "anomalies", "image_ood_auroc", "") not in value.index
    assert ("a", "clean", "ood_auroc", "msp") not in value.index
    with pytest.raises(ValueError, match="unknown metric 'ood_auroc'; known metrics are: images, parameters, miou"):
        select_metrics(table, ["ood_auroc"])


TINY_EVAL = {
    "demo": {
        "seed": 1, "height": 64, "width": 128,
        "cityscapes": {"train": {"aachen": 4}, "val": {"frankfurt": 3}},
        "acdc": {"conditions": ["fog"], "images": {"train": 1}},
        "idd": {"images": {"val": 2}},
        "smiyc": {"images": 2, "objects_per_image": [1, 1]},
    },
    "models": {"segformer_b0": {"family": "SegFormer",
                                "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"}},
    "model_training": {"iterations": 2, "batch_size": 2, "crop_size": [64, 128]},
    "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val"},
                  "idd_val": {"dataset": "idd", "split": "val"},
                  "smiyc_anomaly": {"dataset": "smiyc"}},
    # batch size 1: a forward pass's floating-point result depends on its batch, not on sharding
    "evaluation": {"shards": 2, "calibration_pixels": 300, "batch_size": 1,
                   "ablations": {"calibration_pixels": [100], "negative_entropy": True}},
}


@pytest.mark.workflow
def test_evaluation_stage_end_to_end(snakemake, tmp_path):
    snakemake(tmp_path, TINY_EVAL, "--cores", "2", "evaluate")
    table = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv").fillna({"score": ""})
    value = table.set_index(["model", "test_set", "measure", "score"])["value"].sort_index()
    assert value["segformer_b0", "cityscapes_val", "images", ""] == 3
    assert value["segformer_b0", "idd_val", "images", ""] == 2
    segmentation = ("miou", "ece", "adaptive_ece", "ks_error", "prr", "prr_relis", "image_confidence")
    assert {(measure, "") for measure in segmentation} <= set(value["segformer_b0", "cityscapes_val"].index)
    assert {("ood_auroc", "entropy"), ("ood_fpr95", "msp"), ("ood_aupr", "max_logit"), ("ood_mean_entropy", "")} <= set(
        value["segformer_b0", "smiyc_anomaly"].index)
    assert ("ood_auroc", "msp") in value["segformer_b0", "idd_val"].index  # local OOD
    assert ("ood_auroc", "msp") not in value["segformer_b0", "cityscapes_val"].index
    # image-level OOD: Cityscapes val images (positives) against IDD's, from the per-image table
    images = pd.read_csv(tmp_path / "results" / "tables" / "image_confidence.csv")
    pair = images[images.test_set.isin(["cityscapes_val", "idd_val"])]
    expected = roc_auc_score(pair.test_set == "cityscapes_val", pair.confidence)
    assert value["segformer_b0", "idd_val", "image_ood_auroc", ""] == pytest.approx(expected, abs=1e-12)
    assert ("segformer_b0", "smiyc_anomaly", "image_ood_auroc", "") not in value.index
    # RELIS' ablations from the same pass: the main count's rows are the metrics table's
    ablations = pd.read_csv(tmp_path / "results" / "tables" / "ablations.csv", dtype={"setting": str})
    ablation = ablations.set_index(["test_set", "ablation", "setting", "measure"]).value
    assert ablation["cityscapes_val", "calibration_pixels", "300", "ece"] == value[
        "segformer_b0", "cityscapes_val", "ece", ""]
    assert ablation["idd_val", "confidence", "msp", "image_ood_auroc"] == value[
        "segformer_b0", "idd_val", "image_ood_auroc", ""]
    expected = roc_auc_score(pair.test_set == "cityscapes_val", pair.negative_entropy_confidence)
    assert ablation["idd_val", "confidence", "negative_entropy", "image_ood_auroc"] == pytest.approx(expected)
    assert set(ablations.test_set) == {"cityscapes_val", "idd_val"}  # segmentation sets only

    # mIoU against mmseg's own inference and IoU metric on the same model and images
    from mmseg.apis import inference_model
    from mmseg.evaluation.metrics import IoUMetric

    from segrel.models.segmentors import load_model

    model_dir = tmp_path / "resources" / "models" / "segformer_b0"
    model = load_model(model_dir / "segformer_b0.py", model_dir / "segformer_b0.pth")
    # the parameter count, from the checkpoint's tensors less the norms' running statistics
    weights = torch.load(model_dir / "segformer_b0.pth", map_location="cpu", weights_only=False)["state_dict"]
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    expected = sum(tensor.numel() for key, tensor in weights.items() if not key.endswith(buffers))
    assert value["segformer_b0", "idd_val", "parameters", ""] == expected > 0
    samples = formats.list_samples("cityscapes", tmp_path / "resources" / "datasets" / "cityscapes", "val")
    totals = None
    for sample in samples:
        prediction = inference_model(model, str(sample.image)).pred_sem_seg.data[0]
        label = torch.from_numpy(formats.read_label("cityscapes", sample.label).astype(np.int64))
        areas = IoUMetric.intersect_and_union(prediction, label, 19, 255)
        totals = areas if totals is None else [a + b for a, b in zip(totals, areas)]
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = np.nanmean(IoUMetric.total_area_to_metrics(*totals, metrics=["mIoU"])["IoU"])
    assert value["segformer_b0", "cityscapes_val", "miou", ""] == pytest.approx(reference, abs=1e-6)

    # One shard or two: the very same numbers (pixel sampling is seeded per image, not per
    # shard, and shard states merge exactly).
    one_shard = {**TINY_EVAL, "evaluation": {**TINY_EVAL["evaluation"], "shards": 1}}
    snakemake(tmp_path, one_shard, "--cores", "2", "evaluate")
    again = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv").fillna({"score": ""})
    again = again.set_index(["model", "test_set", "measure", "score"])
    pd.testing.assert_series_equal(again["value"].sort_index(), value.sort_index(), check_exact=True)

    # One job per model (every test set, the model loaded once) or one per test set: the same bytes
    by_test_set = (tmp_path / "results" / "tables" / "metrics.csv").read_bytes()
    per_model = {**TINY_EVAL, "evaluation": {**TINY_EVAL["evaluation"], "jobs": "per_model"}}
    plan = snakemake(tmp_path, per_model, "-n", "evaluate", "--quiet", "rules").stdout
    assert "evaluate_model" in plan and "evaluate_shard" not in plan
    snakemake(tmp_path, per_model, "--cores", "2", "evaluate")
    assert (tmp_path / "results" / "tables" / "metrics.csv").read_bytes() == by_test_set
    log = tmp_path / "results" / "logs" / "evaluate" / "evaluate_model" / "segformer_b0" / "shard-1-of-2.log"
    assert "segformer_b0 on smiyc_anomaly: 1 of 2 images" in log.read_text()



def test_ablations_against_direct_computation(tmp_path):
    """RELIS Figs. 10/11: a pixel count above an image's size takes every labelled pixel (so its
    ECE is that of all of them by Guo et al.'s routine); a smaller one draws exactly that many;
    PRR with the negative entropy is Malinin et al.'s routine on scipy's entropy."""
    ablations = Ablations(calibration_pixels=(50, 100_000), negative_entropy=True)
    state = EvaluationState(kind="segmentation", calibration_pixels=100_000, seed=0, batch_size=1, ablations=ablations)
    rng = np.random.default_rng(3)
    confidence, entropy, correct, image_confidence = [], [], [], []
    for index in range(2):
        label_path = tmp_path / f"{index}_gtFine_labelIds.png"
        ids = rng.choice([7, 8, 11, 21, 23, 0], size=(64, 128)).astype(np.uint8)
        Image.fromarray(ids).save(label_path)
        label = formats.to_labels("cityscapes", ids)
        # right about half the time, like a weak segmenter (the published PRR routine is coarse
        # at a few hundred pixels and 6% accuracy)
        logits = torch.from_numpy(rng.normal(size=(19, 64, 128)) * 2 + 4 * (np.arange(19)[:, None, None] == label))
        _accumulate(state, "cityscapes", Sample(f"img{index}", label_path), logits, logits.argmax(0))
        label = label.ravel()
        probs = torch.softmax(logits.double(), dim=0).numpy().reshape(19, -1)[:, label != 255]
        confidence.append(probs.max(0))
        entropy.append(scipy_entropy(probs, axis=0))
        correct.append(probs.argmax(0) == label[label != 255])
        image_confidence.append(np.mean(1 - entropy[-1] / np.log(19)))
    confidence, entropy, correct = map(np.concatenate, (confidence, entropy, correct))
    assert state.ablation["pixels_50"].count.sum() == 2 * 50
    everything = state.ablation["pixels_100000"]
    assert everything.count.sum() == correct.size
    assert everything.ece() == pytest.approx(ece_reference(confidence, correct), abs=1e-6)
    prr = state.ablation["negative_entropy"].prr()
    assert prr == pytest.approx(published_prr(-entropy, correct, fractions=False), abs=0.01)
    assert prr != pytest.approx(state.calibration.prr(), abs=1)  # another ranking than the MSP's
    np.testing.assert_allclose(state.image_entropy_confidence, image_confidence, rtol=1e-5)
    # saved and merged with the rest of the state; other ablations refuse to merge
    state.save(tmp_path / "state.npz")
    loaded = EvaluationState.load(tmp_path / "state.npz")
    assert loaded.ablation_metrics() == state.ablation_metrics()
    assert [row[:2] for row in state.ablation_metrics()] == (
        [("calibration_pixels", "50")] * 4 + [("calibration_pixels", "100000")] * 4
        + [("confidence", "msp"), ("confidence", "negative_entropy")])
    with pytest.raises(ValueError, match=r"ablation_pixels \(\) vs \(50, 100000\)"):
        loaded.merge(EvaluationState(kind="segmentation", calibration_pixels=100_000, seed=0, batch_size=1))


def test_ablations_only_on_the_test_sets_listed(monkeypatch):
    """evaluation.ablations.test_sets: the other sets get no ablation accumulators (their cost
    per image is the point); absent, every set gets them."""
    from segrel.evaluate import checks, evaluation

    asked = []
    monkeypatch.setattr(evaluation.formats, "list_samples", lambda *args: ["image"])
    monkeypatch.setattr(evaluation, "evaluate_transformed_shard", lambda *args, ablations, **kwargs: asked.append(
        ablations) or {})
    test_sets = {name: {"format": "cityscapes", "root": "r", "split": "val", "subset": "*", "unknown_ids": "error"}
                 for name in ("clean", "shifted", "corrupted")}
    ablations = {"calibration_pixels": [5], "negative_entropy": True}
    settings = {"batch_size": 1, "calibration_pixels": 10, "seed": 0,
                "ablations": {**ablations, "test_sets": ["clean", "corrupted"]}}
    list(evaluation.evaluate_job(None, "m", test_sets, 0, 1, settings))
    assert asked == [Ablations((5,), True), Ablations(), Ablations((5,), True)]
    asked.clear()
    list(evaluation.evaluate_job(None, "m", test_sets, 0, 1, {**settings, "ablations": ablations}))
    assert asked == [Ablations((5,), True)] * 3

    def problems(listed, **chosen):
        return checks.config_problems({
            "datasets": {"cs": {"format": "cityscapes"}},
            "test_sets": {name: {"dataset": "cs"} for name in test_sets},
            "evaluation": {"in_domain_test_set": "clean", "ablations": {**chosen, "test_sets": listed}}})

    assert problems(["clean", "fgo"], negative_entropy=True) == [
        "config key 'evaluation.ablations.test_sets': no test set named 'fgo'"]
    (problem,) = problems(["shifted"], calibration_pixels=[5])
    assert problem.startswith("config key 'evaluation.ablations.test_sets': add the in-domain test set 'clean'")
    assert problems(["shifted"]) == [] and problems(["clean", "shifted"], **ablations) == []


def test_non_finite_outputs_are_refused_naming_the_image(tmp_path):
    label_path = tmp_path / "a_gtFine_labelIds.png"
    Image.fromarray(np.full((4, 8), 7, np.uint8)).save(label_path)
    state = EvaluationState(kind="segmentation", calibration_pixels=10, seed=0, batch_size=1)
    for bad in (float("nan"), float("inf")):
        logits = torch.zeros(19, 4, 8)
        logits[3, 1, 2] = bad
        with pytest.raises(ValueError, match=r"^img.png: the model's outputs are not finite \(NaN or inf\)"):
            _accumulate(state, "cityscapes", Sample("img.png", label_path), logits, logits.argmax(0))
    assert state.image_names == [] and state.confusion.sum() == 0  # nothing added
