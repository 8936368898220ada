"""Rule plot_reliability: the RELIS figures drawn from the metrics table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel import figures  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

metrics = pd.read_csv(snakemake.input.metrics)
families = snakemake.params.families
draw = {
    "shift_degradation": lambda: figures.shift_degradation_figure(metrics, snakemake.params.in_domain, families),
    "ece_vs_error": lambda: figures.ece_vs_error_figure(metrics, families),
    "ood_detection": lambda: figures.ood_detection_figure(metrics),
    "misclassification": lambda: figures.misclassification_figure(metrics),
}[snakemake.wildcards.figure]
figure, data = draw()
figures.save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
