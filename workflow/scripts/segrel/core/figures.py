"""What every figure shares: the style, panel grids, and writing a figure with its data.

Each figure is written as PNG and PDF with the tidy table of exactly the numbers drawn beside
it (``results/tables/figures/...``), so it can be re-plotted without re-running anything.
Files are deterministic: fixed styles, no timestamps, atomic writes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from segrel.core.io import atomic_file

plt.switch_backend("Agg")  # jobs run without a display


def style() -> None:
    sns.set_theme(context="paper", style="whitegrid", font_scale=1.1)


def panel_grid(n: int, width: float = 4.2, height: float = 3.8, columns: int = 3):
    """A figure with ``n`` panels of ``width`` x ``height`` inches, ``columns`` per row."""
    columns = min(columns, n)
    rows = int(np.ceil(n / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return figure, list(axes.flat[:n])


def bare(ax) -> None:
    """An image panel: no ticks, no grid."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def save(figure, png, pdf) -> None:
    """PNG and PDF, atomically, without creation dates (byte-identical re-runs)."""
    with atomic_file(png, "wb") as handle:
        figure.savefig(handle, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    with atomic_file(pdf, "wb") as handle:
        figure.savefig(handle, format="pdf", bbox_inches="tight",
                       metadata={"CreationDate": None, "Creator": None, "Producer": None})
    plt.close(figure)


def write_figure(figure, data, output) -> None:
    """A rule's figure outputs: ``output.png``, ``output.pdf`` and ``output.data`` (the table drawn)."""
    save(figure, output.png, output.pdf)
    with atomic_file(output.data) as handle:
        data.to_csv(handle, index=False)
