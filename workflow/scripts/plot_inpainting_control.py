"""Rule plot_inpainting_control: OOD detection on inpainted objects vs the control (Loiseau et al. Fig. 11)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.figures import inpainting_control_figure
from segrel.core.figures import write_figure
from segrel.evaluate.metrics_table import read_metrics

figure, data = inpainting_control_figure(read_metrics(snakemake.input.metrics), snakemake.params.test_sets,
                                         snakemake.params.metrics)
write_figure(figure, data, snakemake.output)
