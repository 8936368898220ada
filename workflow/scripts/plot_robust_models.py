"""Rule plot_robust_models: the most robust models on one real shift, real vs proxies."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.figures import robust_models_figure
from segrel.core.figures import write_figure
from segrel.evaluate.metrics_table import read_metrics

comparison = snakemake.params.comparison
figure, data = robust_models_figure(read_metrics(snakemake.input.metrics), comparison["real"],
                                    comparison["proxies"], snakemake.params.top)
write_figure(figure, data, snakemake.output)
