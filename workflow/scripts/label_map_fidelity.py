"""Rule label_map_fidelity: per model and generated domain, mIoU on the generated images over
mIoU on the real images of the same label maps."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.statistics import label_map_fidelity
from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics

table = label_map_fidelity(read_metrics(snakemake.input.metrics), snakemake.params.domains,
                           snakemake.params.reference)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
