"""Rule plot_robust_models: the best model of each family, ranked on one real shift, relative to a
reference family, on the real set and its proxies (Loiseau et al. Fig. 4)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.figures import robust_models_figure
from segrel.core.figures import write_figure
from segrel.evaluate.metrics_table import read_metrics

comparison, settings = snakemake.params.comparison, snakemake.params.settings
figure, data = robust_models_figure(read_metrics(snakemake.input.metrics), snakemake.params.families,
                                    real=comparison["real"], proxies=comparison["proxies"],
                                    in_domain=settings["in_domain"], reference_family=settings["reference_family"])
write_figure(figure, data, snakemake.output)
