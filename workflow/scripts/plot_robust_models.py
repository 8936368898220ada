"""Rule plot_robust_models: the most robust models on one real shift, real vs proxies."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.figures import robust_models_figure
from segrel.core.figures import write_figure

comparison = snakemake.params.comparison
figure, data = robust_models_figure(pd.read_csv(snakemake.input.metrics), comparison["real"],
                                    comparison["proxies"], snakemake.params.top)
write_figure(figure, data, snakemake.output)
