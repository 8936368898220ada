"""The evaluation stage: per-pixel scores, shard states, and a small real run of the workflow
checked against mmseg's own inference and IoU metric."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import entropy as scipy_entropy

from segrel.core import formats
from segrel.evaluate.evaluation import EvaluationState, _accumulate, pixel_scores


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


def test_state_roundtrip_and_merge(tmp_path):
    rng = np.random.default_rng(0)

    class Sample:
        def __init__(self, name, label):
            self.name, self.label, self.image = name, label, name

    states = []
    for part in range(2):
        state = EvaluationState(kind="segmentation")
        for index in range(2):
            label_path = tmp_path / f"{part}_{index}_gtFine_labelIds.png"
            from PIL import Image

            Image.fromarray(rng.choice([7, 8, 11, 21, 23, 0], size=(16, 32)).astype(np.uint8)).save(label_path)
            logits = torch.from_numpy(rng.normal(size=(19, 16, 32)))
            _accumulate(state, "cityscapes", Sample(f"img{part}{index}", label_path), logits, logits.argmax(0), 200,
                        seed=0)
        state.save(tmp_path / f"shard{part}.npz")
        states.append(state)
    loaded = [EvaluationState.load(tmp_path / f"shard{part}.npz") for part in range(2)]
    assert loaded[0].metrics() == states[0].metrics()
    merged = loaded[0].merge(loaded[1])
    np.testing.assert_array_equal(merged.confusion, states[0].confusion + states[1].confusion)
    # per-image confusions: one per image, adding up to the total
    assert merged.image_confusion_array().shape == (4, 19, 19)
    np.testing.assert_array_equal(merged.image_confusion_array().sum(0), merged.confusion)
    assert merged.metrics()["images"] == 4.0


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
    "evaluation": {"shards": 2, "calibration_pixels": 300, "batch_size": 1},
}


@pytest.mark.workflow
def test_evaluation_stage_end_to_end(snakemake, tmp_path):
    snakemake(tmp_path, TINY_EVAL, "--cores", "2", "evaluate")
    table = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv")
    value = table.set_index(["model", "test_set", "metric"])["value"]
    assert value["segformer_b0", "cityscapes_val", "images"] == 3
    assert value["segformer_b0", "idd_val", "images"] == 2
    assert {"miou", "ece", "adaptive_ece", "ks_error", "prr", "prr_relis", "image_confidence"} <= set(
        value["segformer_b0", "cityscapes_val"].index)
    assert {"ood_auroc_entropy", "ood_fpr95_msp", "ood_aupr_max_logit", "ood_mean_entropy"} <= set(
        value["segformer_b0", "smiyc_anomaly"].index)
    assert "ood_auroc_msp" in value["segformer_b0", "idd_val"].index  # local OOD
    assert "ood_auroc_msp" not in value["segformer_b0", "cityscapes_val"].index
    # image-level OOD: Cityscapes val images (positives) against IDD's, from the per-image table
    images = pd.read_csv(tmp_path / "results" / "tables" / "image_confidence.csv")
    from sklearn.metrics import roc_auc_score

    pair = images[images.test_set.isin(["cityscapes_val", "idd_val"])]
    expected = roc_auc_score(pair.test_set == "cityscapes_val", pair.confidence)
    assert value["segformer_b0", "idd_val", "image_ood_auroc"] == pytest.approx(expected, abs=1e-12)
    assert ("segformer_b0", "smiyc_anomaly", "image_ood_auroc") not in value.index

    # mIoU against mmseg's own inference and IoU metric on the same model and images
    from mmseg.apis import inference_model
    from mmseg.evaluation.metrics import IoUMetric

    from segrel.models.segmentors import load_model

    model_dir = tmp_path / "resources" / "models" / "segformer_b0"
    model = load_model(model_dir / "segformer_b0.py", model_dir / "segformer_b0.pth")
    samples = formats.list_samples("cityscapes", tmp_path / "resources" / "datasets" / "cityscapes", "val")
    totals = None
    for sample in samples:
        prediction = inference_model(model, str(sample.image)).pred_sem_seg.data[0]
        label = torch.from_numpy(formats.read_label("cityscapes", sample.label).astype(np.int64))
        areas = IoUMetric.intersect_and_union(prediction, label, 19, 255)
        totals = areas if totals is None else [a + b for a, b in zip(totals, areas)]
    with np.errstate(invalid="ignore", divide="ignore"):
        reference = np.nanmean(IoUMetric.total_area_to_metrics(*totals, metrics=["mIoU"])["IoU"])
    assert value["segformer_b0", "cityscapes_val", "miou"] == pytest.approx(reference, abs=1e-6)

    # One shard or two: the very same numbers (pixel sampling is seeded per image, not per
    # shard, and shard states merge exactly).
    one_shard = {**TINY_EVAL, "evaluation": {**TINY_EVAL["evaluation"], "shards": 1}}
    snakemake(tmp_path, one_shard, "--cores", "2", "evaluate")
    again = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv").set_index(["model", "test_set", "metric"])
    pd.testing.assert_series_equal(again["value"].sort_index(), value.sort_index(), check_exact=True)
