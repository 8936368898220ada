"""The least-squares line a correlation figure draws, with its confidence band (its own module:
the figures import it without depending on the correlation statistics)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def regression_band(x, y, at, *, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The least-squares line of ``y`` on ``x`` at ``at``, and the confidence band of that line
    (of the mean response: t with n - 2 degrees of freedom), as Loiseau et al.'s Fig. 3 draws it.

    >>> line, low, high = regression_band([0, 1, 2, 3], [0, 1, 2, 3.5], [1.5])  # s = 0.194, t(2) = 4.303
    >>> round(float(line[0]), 3), round(float(high[0] - line[0]), 3)
    (1.625, 0.417)
    """
    x, y, at = (np.asarray(values, dtype=np.float64) for values in (x, y, at))
    if len(x) < 3:
        raise ValueError(f"a regression band needs at least 3 points, got {len(x)}")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    scale = np.sqrt(residual @ residual / (len(x) - 2))
    spread = scale * np.sqrt(1 / len(x) + (at - x.mean()) ** 2 / ((x - x.mean()) ** 2).sum())
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 2) * spread
    line = slope * at + intercept
    return line, line - half, line + half
