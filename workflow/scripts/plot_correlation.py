"""Rule plot_correlation: proxy vs real scatter per (proxy, metric) of one comparison."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel.analysis import paired_values  # noqa: E402
from segrel.figures import correlation_figure, save  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

comparison, name = snakemake.params.comparison, snakemake.wildcards.comparison
metrics = pd.read_csv(snakemake.input.metrics)
correlations = pd.read_csv(snakemake.input.correlations)
correlations = correlations[correlations.comparison == name]
panels = pd.concat([paired_values(metrics, proxy, comparison["real"], metric).rename(
    columns={"proxy": "proxy_value", "real": "real_value"}).assign(proxy=proxy, metric=metric)
    for proxy in comparison["proxies"] for metric in comparison["metrics"]], ignore_index=True)
figure, data = correlation_figure(panels, correlations, snakemake.params.families,
                                  title=f"{name}: proxies vs {comparison['real']}")
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
