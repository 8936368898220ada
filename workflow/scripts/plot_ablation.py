"""Rule plot_ablation: RELIS' evaluation ablations (Fig. 10: pixels per image; Fig. 11: MSP vs
negative entropy as the confidence) from the ablations table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse import figures
from segrel.core.figures import write_figure

ablations = pd.read_csv(snakemake.input.ablations, dtype={"setting": str})
draw = {
    "calibration_pixels": lambda: figures.pixels_ablation_figure(ablations, snakemake.params.in_domain),
    "confidence": lambda: figures.confidence_ablation_figure(ablations),
}[snakemake.wildcards.ablation]
figure, data = draw()
write_figure(figure, data, snakemake.output)
