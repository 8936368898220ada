"""Independent references the metric tests compare against: the papers' own routines transcribed
loop for loop (Guo et al.'s ECE, Mukhoti et al.'s AdaECE, Malinin et al.'s and RELIS' PRR).
Imported by test modules as ``references`` (conftest.py puts this folder on the path)."""

import numpy as np


def ece_reference(confidence, correct, n_bins=15):
    """Guo et al. 2017, as written in their code: bins (lo, hi]."""
    return ece_binned_by(np.linspace(0, 1, n_bins + 1), confidence, correct)


def adaptive_ece_reference(confidence, correct, n_bins=15):
    """Mukhoti et al. 2020's AdaptiveECELoss: equal-mass edges by interpolation, bins (lo, hi]."""
    n = len(confidence)
    edges = np.interp(np.linspace(0, n, n_bins + 1), np.arange(n), np.sort(confidence))
    edges[0] = -np.inf
    return ece_binned_by(edges, confidence, correct)


def ece_binned_by(edges, confidence, correct):
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return total


def published_prr(confidence, correct, fractions: bool):
    """The rejection-ratio routine of Malinin et al. (and RELIS), loop for loop.

    ``fractions=False``: the original, errors in percent. ``fractions=True``: RELIS' edit,
    errors cumulated as fractions while the oracle keeps its ``/ 100``.
    """
    from sklearn.metrics import auc

    inds = np.argsort(confidence)[::-1]  # most confident first
    n = len(confidence)
    wrong = ~correct[inds]
    scale = 1.0 if fractions else 100.0
    errors = np.r_[0.0, np.cumsum(wrong)[:-1]] * scale / n  # errors among inds[:i]
    percentages = (np.arange(n) + 1) / n * 100.0
    base_error = errors[-1]
    auc_uns = 1.0 - auc(percentages / 100.0, errors[::-1] / 100.0)
    random_rejection = np.array([base_error * (1.0 - i / n) for i in range(n)])
    auc_rnd = 1.0 - auc(percentages / 100.0, random_rejection / 100.0)
    k = int(base_error / 100.0 * n)
    orc = np.zeros(n)
    orc[:k] = [base_error * (1.0 - i / (base_error / 100.0 * n)) for i in range(k)]
    auc_orc = 1.0 - auc(percentages / 100.0, orc / 100.0)
    return (auc_uns - auc_rnd) / (auc_orc - auc_rnd) * 100.0
