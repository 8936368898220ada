"""Rule plot_robust_models: the most robust models on one real shift, real vs proxies."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel.figures import robust_models_figure, save  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

comparison = snakemake.params.comparison
figure, data = robust_models_figure(pd.read_csv(snakemake.input.metrics), comparison["real"],
                                    comparison["proxies"], snakemake.params.top)
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
