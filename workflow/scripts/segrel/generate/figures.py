"""The generate stage's figures: generated images next to their label maps, inpainted samples.

Each ``*_figure`` function returns ``(figure, data)`` (see :func:`segrel.core.figures.write_figure`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from segrel.core.figures import bare, panel_grid, style


def generation_grid_figure(rows: list[dict], columns: list[str]):
    """Loiseau et al. Fig. 2/7 style: one row per label map, one panel per entry of ``columns``
    (each row maps column name -> (H, W, 3) uint8); the row's caption under it."""
    style()
    figure, axes = plt.subplots(len(rows), len(columns), figsize=(2.6 * len(columns), 2.8 * len(rows)), squeeze=False)
    for ax_row, row in zip(axes, rows):
        for ax, column in zip(ax_row, columns):
            ax.imshow(row[column])
            bare(ax)
        ax_row[0].set_ylabel(row["name"], fontsize="x-small")
        ax_row[len(columns) // 2].set_xlabel(row["caption"][:80], fontsize="x-small")
    for ax, column in zip(axes[0], columns):
        ax.set_title(column)
    figure.tight_layout()
    return figure, pd.DataFrame([{"image": row["name"], "caption": row["caption"]} for row in rows])


def inpainting_samples_figure(rows: list[dict]):
    """Inpainted samples: each image with its square outlined and the detected object mask
    overlaid. ``rows``: dicts with image (H, W, 3 uint8), label (H, W: 0 / 1 / 255), name,
    sample, object, top, left, side."""
    from matplotlib.patches import Rectangle

    style()
    figure, axes = panel_grid(len(rows), width=4.0, height=2.4)
    for ax, row in zip(axes, rows):
        ax.imshow(row["image"])
        overlay = np.zeros((*row["label"].shape, 4))
        overlay[row["label"] == 1] = (1.0, 0.1, 0.1, 0.45)
        overlay[row["label"] == 255] = (0.2, 0.2, 1.0, 0.25)
        ax.imshow(overlay)
        ax.add_patch(Rectangle((row["left"] - 0.5, row["top"] - 0.5), row["side"], row["side"], fill=False,
                               edgecolor="yellow", linewidth=1.2))
        ax.set_title(f"{row['object']} ({row['sample']})", fontsize="small")
        bare(ax)
    figure.tight_layout()
    data = pd.DataFrame([{"image": row["name"], "sample": row["sample"], "object": row["object"],
                          "mask_pixels": int((row["label"] == 1).sum())} for row in rows])
    return figure, data
