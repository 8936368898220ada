"""Rule proxy_study: for each real shift, the PCC over models of every proxy family (Cityscapes val,
generated domain, physics rendering, corruptions) and which ranks first."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics
from segrel.stress.tables import proxy_table

settings = snakemake.params.settings
table = proxy_table(read_metrics(snakemake.input.metrics), snakemake.params.shifts, snakemake.params.families,
                    confidence=settings["confidence_level"], resamples=settings["resamples"], seed=settings["seed"])
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
