"""Rule plot_correlation: proxy vs real scatter per (proxy, metric) of one comparison, or (layout
overlay) per metric with every proxy in one panel (Loiseau et al. Figs. 8/9)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.figures import correlation_figure, proxies_overlay_figure
from segrel.analyse.statistics import paired_values
from segrel.core.figures import write_figure
from segrel.evaluate.metrics_table import read_metrics

comparison, name = snakemake.params.comparison, snakemake.wildcards.comparison
metrics = read_metrics(snakemake.input.metrics)
correlations = pd.read_csv(snakemake.input.correlations)
correlations = correlations[correlations.comparison == name]
panels = pd.concat([paired_values(metrics, proxy, comparison["real"], metric).rename(
    columns={"proxy": "proxy_value", "real": "real_value"}).assign(proxy=proxy, metric=metric)
    for proxy in comparison["proxies"] for metric in comparison["metrics"]], ignore_index=True)
title = f"{name}: proxies vs {comparison['real']}"
if comparison["layout"] == "overlay":
    figure, data = proxies_overlay_figure(panels, correlations, title)
else:
    figure, data = correlation_figure(panels, correlations, snakemake.params.families, title=title)
write_figure(figure, data, snakemake.output)
