"""Rule plot_reliability: the RELIS figures drawn from the metrics table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse import figures
from segrel.core.figures import write_figure
from segrel.evaluate.metrics_table import read_metrics

metrics = read_metrics(snakemake.input.metrics)
metrics = metrics[metrics.test_set.isin(snakemake.params.test_sets)]
families = snakemake.params.families
draw = {
    "shift_degradation": lambda: figures.shift_degradation_figure(metrics, snakemake.params.in_domain, families),
    "ece_vs_error": lambda: figures.ece_vs_error_figure(metrics, families),
    "ood_detection": lambda: figures.ood_detection_figure(metrics),
    "ood_vs_miou": lambda: figures.ood_vs_miou_figure(metrics, families),
    "misclassification": lambda: figures.misclassification_figure(metrics),
}[snakemake.wildcards.figure]
figure, data = draw()
write_figure(figure, data, snakemake.output)
