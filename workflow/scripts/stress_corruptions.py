"""Rule stress_corruptions: mIoU of every model on every corrupted test set, with its clean mIoU."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics
from segrel.stress.tables import corruption_table

table = corruption_table(read_metrics(snakemake.input.metrics), snakemake.params.corrupted, snakemake.params.clean)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(f"{len(table)} rows")
