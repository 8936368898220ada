"""Rule outlier_table: Loiseau et al. Table 2 from the outlier-trained models' metrics."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics
from segrel.models.outliers import outlier_table

params = snakemake.params
table = outlier_table(read_metrics(snakemake.input.metrics), params.base, params.variants, params.objects)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
