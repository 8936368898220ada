"""Temperature scaling: one temperature T per model (logits / T), fitted on calibration pixels.

Two fits: RELIS' grid search for the lowest ECE (``uncertainty_helpers.find_best_temperature_grid_search``:
T over ``np.arange(0.5, 10, 0.01)``, starting from T = 1 and its ECE, a grid point replacing
the best only when its ECE is strictly lower; ECE of 15 equal-width bins (lo, hi] as its
``_ECELoss``), and the classic NLL minimisation (Guo et al. 2017). A temperature never changes
the arg-max, so the correctness of every pixel is fixed and only the confidence moves with T.
"""

from __future__ import annotations

import numpy as np
import torch

#: RELIS' grid: np.arange(min_t=0.5, max_t=10, step=0.01)
TEMPERATURE_GRID = np.arange(0.5, 10, 0.01)
ECE_BINS = 15
VOID = 255
METHODS = ("ece", "nll")


def fit_temperature(logits, labels, method: str = "ece") -> float:
    """The temperature fitted on ``logits`` (N, C) and ``labels`` (N,), void (255) ignored:
    RELIS' ECE grid search (``method="ece"``) or the NLL minimum (``"nll"``).

    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, 4000)
    >>> logits = np.eye(3)[labels] * 2 + rng.normal(size=(4000, 3))
    >>> round(fit_temperature(logits * 3, labels, "nll") / fit_temperature(logits, labels, "nll"), 6)
    3.0
    """
    if method not in METHODS:
        raise ValueError(f"unknown temperature fit {method!r}; known: {', '.join(METHODS)}")
    logits, labels = torch.as_tensor(np.asarray(logits), dtype=torch.float64), torch.as_tensor(np.asarray(labels))
    valid = labels != VOID
    logits, labels = logits[valid], labels[valid].long()
    if len(labels) == 0:
        raise ValueError("no labelled pixel to fit a temperature on (every label is void)")
    return _grid_search_ece(logits, labels) if method == "ece" else _minimise_nll(logits, labels)


def relative_ece_improvement(ece_before: float, ece_after: float) -> float:
    """Loiseau et al. Fig. 6: (ECE_before - ECE_after) / ECE_before, as a fraction (negative:
    calibration made it worse).

    >>> relative_ece_improvement(0.2, 0.1)
    0.5
    """
    if ece_before <= 0:
        raise ValueError(f"ECE before calibration must be positive to improve on, got {ece_before}")
    return (ece_before - ece_after) / ece_before


def _grid_search_ece(logits: torch.Tensor, labels: torch.Tensor) -> float:
    shifted = logits - logits.max(dim=1, keepdim=True).values  # <= 0; the arg-max term is exp(0) = 1
    correct = (logits.argmax(dim=1) == labels).double()
    best_temperature, best_ece = 1.0, _ece(shifted, correct, 1.0)
    for temperature in TEMPERATURE_GRID:
        ece = _ece(shifted, correct, float(temperature))
        if ece < best_ece:
            best_temperature, best_ece = float(temperature), ece
    return best_temperature


def _ece(shifted: torch.Tensor, correct: torch.Tensor, temperature: float) -> float:
    """ECE of the MSP of ``shifted / temperature``: 15 equal-width bins (lo, hi]."""
    confidence = 1.0 / torch.exp(shifted / temperature).sum(dim=1)
    edges = torch.linspace(0, 1, ECE_BINS + 1, dtype=torch.float64)
    bins = torch.bucketize(confidence, edges[1:-1], right=False)  # (lo, hi]: a confidence on an edge goes below it
    count = torch.bincount(bins, minlength=ECE_BINS).double()
    gap = torch.bincount(bins, weights=confidence, minlength=ECE_BINS) - torch.bincount(bins, weights=correct,
                                                                                      minlength=ECE_BINS)
    return float(gap.abs().sum() / count.sum())


def _minimise_nll(logits: torch.Tensor, labels: torch.Tensor, iterations: int = 100) -> float:
    """Newton's method on beta = 1 / T: the mean NLL of softmax(beta * logits) is convex in beta,
    with gradient E_p[l] - l_label and curvature Var_p[l] (per pixel, averaged)."""
    target = logits.gather(1, labels[:, None])[:, 0]
    beta = 1.0
    for _ in range(iterations):
        p = torch.softmax(beta * logits, dim=1)
        mean = (p * logits).sum(dim=1)
        gradient = float((mean - target).mean())
        curvature = float(((p * logits**2).sum(dim=1) - mean**2).mean())
        step = gradient / curvature if curvature > 0 else 0.0
        new_beta = beta - step
        if new_beta <= 0:  # keep T finite and positive: halve towards zero instead
            new_beta = beta / 2
        if abs(new_beta - beta) <= 1e-12 * max(1.0, abs(beta)):
            beta = new_beta
            break
        beta = new_beta
    return 1.0 / beta
