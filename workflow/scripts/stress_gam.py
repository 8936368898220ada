"""Rule stress_gam: GAM (worst mIoU over SemSegBench's 15 corruptions) and the mean corruption
mIoU of every model."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics
from segrel.stress.tables import gam_table

table = gam_table(read_metrics(snakemake.input.metrics), snakemake.params.gam_sets, snakemake.params.clean)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
