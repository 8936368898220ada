"""Temperature scaling against independent references: brute force over RELIS' grid with Guo et
al.'s ECE routine, scipy's minimiser of the NLL, and a miscalibration of known size."""

import numpy as np
import pytest
from references import ece_reference
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from segrel.calibrate import fit_temperature, relative_ece_improvement


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
