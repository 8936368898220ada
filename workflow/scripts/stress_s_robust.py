"""Rule stress_s_robust: XImageNet-12's S_robust of every model trained on the background
scenarios, from mu (clean), C(i) (the model as configured) and C'(i) (trained on scenario i)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics
from segrel.stress.tables import s_robust_table

table = s_robust_table(read_metrics(snakemake.input.metrics), read_metrics(snakemake.input.trained),
                       snakemake.params.scenarios, snakemake.params.clean)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
