"""Rule correlations: Pearson r (Fisher-z and bootstrap CIs) and Spearman rho over models,
for every configured (comparison, proxy, metric)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.statistics import correlation_table
from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics

table = correlation_table(read_metrics(snakemake.input.metrics), snakemake.params.comparisons,
                          confidence=snakemake.params.confidence_level, resamples=snakemake.params.resamples,
                          seed=snakemake.params.seed)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
