"""Rule correlations: Pearson r (Fisher-z and bootstrap CIs) and Spearman rho over models,
for every configured (comparison, proxy, metric)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel.analysis import correlation_table  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

table = correlation_table(pd.read_csv(snakemake.input.metrics), snakemake.params.comparisons,
                          confidence=snakemake.params.confidence_level, resamples=snakemake.params.resamples,
                          seed=snakemake.params.seed)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
print(table.to_string(), file=sys.stderr)
