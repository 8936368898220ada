"""Robustness aggregates over per-scenario accuracies (fractions in [0, 1]).

- GAM (SemSegBench's generalisation ability measure): the worst mIoU over the corruptions;
  ReM (its reliability measure) the same over the attacks (segrel.stress.attacks.rem).
- S_robust (XImageNet-12): 1 - (var_cross + var_inner), where var_cross is the mean squared
  deviation of C(i) (trained on the original data, tested on scenario i) from mu (trained and
  tested on the original), and var_inner that of C'(i) (trained and tested on scenario i).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _values(accuracies: Mapping[str, float] | Sequence[float], what: str) -> list[float]:
    values = [float(v) for v in (accuracies.values() if isinstance(accuracies, Mapping) else accuracies)]
    if not values:
        raise ValueError(f"{what}: no value to aggregate")
    outside = [v for v in values if not 0.0 <= v <= 1.0]
    if outside:
        raise ValueError(f"{what}: accuracies are fractions in [0, 1], got {outside[:3]}")
    return values


def worst_case(miou_by_condition: Mapping[str, float] | Sequence[float], what: str) -> float:
    """The worst mIoU over the conditions (corruptions: GAM; attacks: ReM); ``what`` names the
    aggregate in errors."""
    return min(_values(miou_by_condition, what))


def gam(miou_by_corruption: Mapping[str, float] | Sequence[float]) -> float:
    """The worst mIoU over the corruptions.

    >>> gam({"fog": 0.61, "snow": 0.42, "contrast": 0.55})
    0.42
    """
    return worst_case(miou_by_corruption, "gam")


def s_robust(cross: Mapping[str, float] | Sequence[float], inner: Mapping[str, float] | Sequence[float],
             mu: float) -> float:
    """XImageNet-12's robustness score from C(i) (``cross``), C'(i) (``inner``) and mu.

    >>> round(s_robust([0.5, 0.7], [0.8, 0.8], 0.8), 6)  # var_cross (0.09 + 0.01) / 2, var_inner 0
    0.95
    """
    (mu,) = _values([mu], "s_robust mu")
    cross, inner = _values(cross, "s_robust cross"), _values(inner, "s_robust inner")
    var_cross = sum((c - mu) ** 2 for c in cross) / len(cross)
    var_inner = sum((c - mu) ** 2 for c in inner) / len(inner)
    return 1.0 - (var_cross + var_inner)
