"""segrel.evaluate.metrics against independent references: sklearn, mmseg's IoU metric, direct loops
transcribed from the papers, the published RELIS/Malinin PRR routine, and hand-made cases."""

import numpy as np
import pytest
from references import adaptive_ece_reference, ece_reference, published_prr
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from segrel.evaluate import metrics


def realistic_pixels(n, seed=0, shift=0.0):
    """Confidences piled up near 1 like a trained segmenter's; accuracy = confidence - shift
    plus a wiggle, so the model is over-confident in some bins and under-confident in others
    (ECE, AdaECE and KS then differ)."""
    rng = np.random.default_rng(seed)
    confidence = 1.0 - rng.beta(0.4, 6.0, n) * 0.95
    accuracy = confidence - shift + 0.06 * np.sin(25 * confidence)
    correct = rng.random(n) < np.clip(accuracy, 0, 1)
    return confidence, correct


# --------------------------------------------------------------------------------- exact functions


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide")  # mmseg: absent class
def test_miou_matches_mmseg_iou_metric():
    import torch
    from mmseg.evaluation.metrics import IoUMetric

    rng = np.random.default_rng(0)
    num_classes = 19
    gt = rng.integers(0, num_classes, 50_000)
    gt[rng.random(gt.size) < 0.1] = 255
    gt[gt == 7] = 3  # class 7 never in the ground truth...
    pred = np.where(rng.random(gt.size) < 0.6, gt, rng.integers(0, num_classes, gt.size))
    pred[pred == 255] = 0
    pred[pred == 7] = 4  # ...nor predicted: excluded from the mean
    areas = IoUMetric.intersect_and_union(torch.from_numpy(pred), torch.from_numpy(gt), num_classes, 255)
    reference = IoUMetric.total_area_to_metrics(*areas, metrics=["mIoU"])
    valid = gt != 255
    confusion = np.bincount(gt[valid] * num_classes + pred[valid], minlength=num_classes**2).reshape(num_classes, -1)
    # mmseg sums areas in float32
    assert metrics.miou(confusion) == pytest.approx(np.nanmean(reference["IoU"]), abs=1e-6)


def test_miou_excluding_classes_by_hand():
    """IDD as RELIS scores it: terrain (9) and train (16) left out of the mean, yet a road pixel
    predicted as terrain still costs road. Road: 8 gt, 6 right, 2 called terrain, 1 car pixel
    called road -> IoU 6 / 9. Car: 4 gt, 3 right -> 3 / 4. Terrain: 0 / 2 (predicted only)."""
    confusion = np.zeros((19, 19), np.int64)
    confusion[0, 0], confusion[0, 9] = 6, 2
    confusion[13, 13], confusion[13, 0] = 3, 1
    assert metrics.miou(confusion, excluded=[9, 16]) == pytest.approx((6 / 9 + 3 / 4) / 2, abs=1e-15)
    assert metrics.miou(confusion) == pytest.approx((6 / 9 + 3 / 4 + 0) / 3, abs=1e-15)


def test_excluded_classes_reach_the_table_by_name(tmp_path):
    from segrel.core.labels import train_ids
    from segrel.evaluate.evaluation import EvaluationState, merge_shard_tables

    state = EvaluationState(kind="segmentation", calibration_pixels=10, seed=0, batch_size=1)
    state.confusion[0, 0], state.confusion[0, 9] = 6, 2
    state.save(tmp_path / "idd.npz")
    state.save(tmp_path / "cs.npz")
    table, _, _ = merge_shard_tables({("m", "idd_val"): [tmp_path / "idd.npz"], ("m", "cs_val"): [tmp_path / "cs.npz"]},
                                  excluded_classes={"idd_val": ["terrain", "train"]})
    miou = table[table.measure == "miou"].set_index("test_set").value
    assert miou["idd_val"] == pytest.approx(6 / 8) and miou["cs_val"] == pytest.approx(6 / 8 / 2)
    with pytest.raises(ValueError, match="unknown class name.*'grass'; the classes: road, sidewalk"):
        train_ids(["grass"])


def test_ece_matches_guo_et_al():
    confidence, correct = realistic_pixels(100_000, shift=0.05)
    assert metrics.ece(confidence, correct) == pytest.approx(ece_reference(confidence, correct), abs=1e-12)


def test_adaptive_ece_matches_mukhoti_et_al():
    confidence, correct = realistic_pixels(100_000, seed=1, shift=0.05)
    reference = adaptive_ece_reference(confidence, correct)
    assert metrics.adaptive_ece(confidence, correct) == pytest.approx(reference, abs=1e-4)


def test_ks_error_on_known_miscalibration():
    rng = np.random.default_rng(2)
    confidence = rng.uniform(0.5, 1.0, 200_000)
    calibrated = rng.random(confidence.size) < confidence
    overconfident = rng.random(confidence.size) < confidence - 0.1
    assert metrics.ks_error(confidence, calibrated) < 0.005  # ~1/sqrt(N) noise only
    assert metrics.ks_error(confidence, overconfident) == pytest.approx(0.1, abs=0.005)


def test_prr_oracle_random_and_reversed():
    rng = np.random.default_rng(3)
    correct = rng.random(20_000) > 0.2
    oracle_conf = np.where(correct, rng.uniform(0.6, 1, correct.size), rng.uniform(0, 0.5, correct.size))
    assert metrics.prr(oracle_conf, correct) == pytest.approx(100.0, abs=1e-9)
    assert metrics.prr(1 - oracle_conf, correct) < -99
    randoms = [metrics.prr(rng.random(correct.size), correct) for _ in range(20)]
    assert abs(np.mean(randoms)) < 2.0


def test_prr_relis_quirk():
    rng = np.random.default_rng(4)
    correct = rng.random(50_000) > 0.2
    oracle_conf = np.where(correct, 0.9, 0.1) + rng.uniform(0, 0.05, correct.size)
    error_rate = 1 - correct.mean()
    # With the quirk a perfect ranking scores (1 - e) / (1 - e / 100) in percent, ~80 at e = 0.2.
    expected = 100 * (1 - error_rate) / (1 - error_rate / 100)
    assert metrics.prr(oracle_conf, correct, relis_compat=True) == pytest.approx(expected, abs=0.01)


def test_prr_matches_the_published_routine():
    confidence, correct = realistic_pixels(4_000, seed=5, shift=0.1)
    for relis in (False, True):
        reference = published_prr(confidence, correct, fractions=relis)
        # the published loop drops the r = 0 point: an O(1/N) difference
        assert metrics.prr(confidence, correct, relis_compat=relis) == pytest.approx(reference, abs=0.1)


def per_sample_prr(confidence, correct):
    """PRR with one curve point per sample, ties rejected in input order (Malinin et al.'s
    curve, with the r = 0 point the published loop drops)."""
    errors = ~correct[np.argsort(confidence, kind="stable")]
    n = len(errors)
    remaining = (errors.sum() - np.r_[0, np.cumsum(errors)]) / n
    model = np.trapezoid(remaining, np.arange(n + 1) / n)
    rate = errors.mean()
    return 100 * (rate / 2 - model) / (rate / 2 - rate**2 / 2)


def test_tied_confidences_do_not_depend_on_input_order():
    """PRR over a tied group = the mean over every order of the group of the per-sample PRR;
    KS reads the gap after the whole group. Both give one value whatever the input order."""
    import itertools

    confidence = np.array([0.2, 0.5, 0.5, 0.5, 0.5, 0.9])
    correct = np.array([False, True, False, True, False, True])
    tied = np.flatnonzero(confidence == 0.5)
    orders = [np.r_[0, order, 5] for order in itertools.permutations(tied)]
    prrs = {metrics.prr(confidence[order], correct[order]) for order in orders}
    kss = {metrics.ks_error(confidence[order], correct[order]) for order in orders}
    assert len(prrs) == 1 and len(kss) == 1
    expected = np.mean([per_sample_prr(confidence[order], correct[order]) for order in orders])
    assert prrs.pop() == pytest.approx(expected, abs=1e-12)
    # |cumsum(conf - correct)| after each group: 0.2; 0.2 + 4 x 0.5 - 2 = 0.2; 0.2 + 0.9 - 1 = 0.1
    assert kss.pop() == pytest.approx(0.2 / 6, abs=1e-15)


@pytest.mark.parametrize("quantize", [None, 50])  # continuous scores, and many ties
def test_detection_metrics_match_sklearn(quantize):
    rng = np.random.default_rng(6)
    is_positive = rng.random(30_000) < 0.1
    scores = rng.normal(0, 1, is_positive.size) + 1.5 * is_positive
    if quantize:
        scores = np.round(scores * quantize / 8) / quantize * 8
    assert metrics.auroc(scores, is_positive) == pytest.approx(roc_auc_score(is_positive, scores), abs=1e-12)
    assert metrics.aupr(scores, is_positive) == pytest.approx(average_precision_score(is_positive, scores), abs=1e-12)
    fpr, tpr, _ = roc_curve(is_positive, scores, drop_intermediate=False)
    expected = fpr[np.searchsorted(tpr, 0.95, side="left")]
    assert metrics.fpr_at_tpr(scores, is_positive, 0.95) == pytest.approx(expected, abs=1e-12)


# -------------------------------------------------------------------------------- accumulators


def shards(arrays, n_shards):
    return zip(*(np.array_split(a, n_shards) for a in arrays))


def test_calibration_accumulator_close_to_exact():
    confidence, correct = realistic_pixels(400_000, seed=7, shift=0.03)
    acc = metrics.CalibrationAccumulator()
    for c, k in shards((confidence, correct), 7):
        acc.update(c, k)
    result = acc.compute()
    assert result["ece"] == pytest.approx(ece_reference(confidence, correct), abs=1e-9)  # exact
    assert result["adaptive_ece"] == pytest.approx(adaptive_ece_reference(confidence, correct), abs=1e-3)
    assert result["ks_error"] == pytest.approx(metrics.ks_error(confidence, correct), abs=1e-3)
    assert result["prr"] == pytest.approx(metrics.prr(confidence, correct), abs=1e-3)  # in percent
    assert result["prr_relis"] == pytest.approx(metrics.prr(confidence, correct, relis_compat=True), abs=1e-3)
    assert result["accuracy"] == pytest.approx(correct.mean())


def test_merged_shards_equal_one_pass_exactly():
    confidence, correct = realistic_pixels(100_000, seed=8)
    scores = -confidence
    whole_cal, whole_det = metrics.CalibrationAccumulator(), metrics.DetectionAccumulator(-1, 0)
    whole_cal.update(confidence, correct)
    whole_det.update(scores, ~correct)
    parts_cal, parts_det = metrics.CalibrationAccumulator(), metrics.DetectionAccumulator(-1, 0)
    for c, k in shards((confidence, correct), 5):
        shard_cal, shard_det = metrics.CalibrationAccumulator(), metrics.DetectionAccumulator(-1, 0)
        shard_cal.update(c, k)
        shard_det.update(-c, ~k)
        parts_cal.merge(shard_cal)
        parts_det.merge(shard_det)
    for whole, parts in ((whole_cal, parts_cal), (whole_det, parts_det)):
        for key, value in whole.state_dict().items():
            np.testing.assert_array_equal(parts.state_dict()[key], value)
        assert whole.compute() == parts.compute()


def test_merge_refuses_different_binning():
    with pytest.raises(ValueError, match=r"cannot merge DetectionAccumulator\(range=\[0.0, 2.0, 10.0\]\) into "
                                         r"DetectionAccumulator\(range=\[0.0, 1.0, 10.0\]\): different binning"):
        metrics.DetectionAccumulator(0, 1, bins=10).merge(metrics.DetectionAccumulator(0, 2, bins=10))
    with pytest.raises(ValueError, match=r"CalibrationAccumulator\(bins=\[1400, 8000\]\).*different binning"):
        metrics.CalibrationAccumulator().merge(metrics.CalibrationAccumulator(linear_bins=1400))


def test_state_dict_restores_counts_and_binning():
    confidence, correct = realistic_pixels(5000, seed=10)
    calibration = metrics.CalibrationAccumulator(linear_bins=1400, log_bins=300)
    calibration.update(confidence, correct)
    detection = metrics.DetectionAccumulator(-1.0, 0.0, bins=77)
    detection.update(-confidence, ~correct)
    for original in (calibration, detection):
        state = {key: value.copy() for key, value in original.state_dict().items()}
        restored = type(original).from_state_dict(state)
        assert restored.settings() == original.settings()
        assert restored.compute() == original.compute()
    # with its own binning, not the default one: ECE is exact on any multiple of 14 linear bins
    assert metrics.CalibrationAccumulator.from_state_dict(calibration.state_dict()).ece() == pytest.approx(
        ece_reference(confidence, correct), abs=1e-9)
    state = detection.state_dict() | {"positives": np.zeros(10, np.int64)}
    with pytest.raises(ValueError, match=r"positives has shape \(10,\) but its binning"):
        metrics.DetectionAccumulator.from_state_dict(state)


def test_detection_accumulator_close_to_sklearn():
    rng = np.random.default_rng(9)
    is_positive = rng.random(500_000) < 0.05
    entropy = np.clip(rng.gamma(2.0, 0.2, is_positive.size) + 0.8 * is_positive, 0, np.log(19))
    acc = metrics.DetectionAccumulator(0.0, np.log(19), bins=10_000)
    for s, p in shards((entropy, is_positive), 4):
        acc.update(s, p)
    result = acc.compute()
    assert result["auroc"] == pytest.approx(roc_auc_score(is_positive, entropy), abs=1e-3)
    assert result["aupr"] == pytest.approx(average_precision_score(is_positive, entropy), abs=1e-3)
    assert result["aupr_negative"] == pytest.approx(average_precision_score(~is_positive, -entropy), abs=1e-3)
    assert result["fpr95"] == pytest.approx(metrics.fpr_at_tpr(entropy, is_positive), abs=1e-3)


def test_state_size_does_not_grow_with_pixels():
    small, large = metrics.CalibrationAccumulator(), metrics.CalibrationAccumulator()
    small.update(*realistic_pixels(10))
    large.update(*realistic_pixels(200_000))
    assert {k: v.shape for k, v in small.state_dict().items()} == {k: v.shape for k, v in large.state_dict().items()}
