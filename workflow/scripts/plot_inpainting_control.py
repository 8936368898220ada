"""Rule plot_inpainting_control: OOD detection on inpainted objects vs the control (Loiseau et al. Fig. 11)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.figures import inpainting_control_figure
from segrel.core.figures import write_figure

figure, data = inpainting_control_figure(pd.read_csv(snakemake.input.metrics), snakemake.params.test_sets,
                                         snakemake.params.metrics)
write_figure(figure, data, snakemake.output)
