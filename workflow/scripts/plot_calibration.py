"""Rule plot_calibration: one calibration figure (segrel.calibrate.figures) with its data table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.calibrate import figures
from segrel.core.figures import write_figure
from segrel.evaluate.metrics_table import read_metrics

calibration, metrics = read_metrics(snakemake.input.calibration), read_metrics(snakemake.input.metrics)
table = figures.with_uncalibrated(calibration, metrics)
in_domain = snakemake.params.in_domain
draw = {
    "ece_after_calibration": lambda: figures.ece_after_calibration_figure(calibration, snakemake.params.families,
                                                                          in_domain),
    "methods": lambda: figures.methods_figure(table, in_domain, snakemake.params.families),
    "clusters": lambda: figures.clusters_figure(table),
    "rejection_and_ood": lambda: figures.rejection_and_ood_figure(table),
    "synthetic_vs_real": lambda: figures.synthetic_vs_real_figure(table, snakemake.params.synthetic_vs_real,
                                                                  in_domain),
}[snakemake.wildcards.figure]
figure, data = draw()
write_figure(figure, data, snakemake.output)
