"""Rule merge_calibration: every calibrated state merged into one tidy table, and the fits' table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.calibrate.tables import fit_table, merge_calibrated
from segrel.core.io import atomic_file
from segrel.core.logs import log

table = merge_calibrated(snakemake.params.shards, snakemake.params.in_domain, snakemake.params.excluded_classes)
fits = fit_table(snakemake.input.calibrators)
with atomic_file(snakemake.output.table) as handle:
    table.to_csv(handle, index=False)
with atomic_file(snakemake.output.fits) as handle:
    fits.to_csv(handle, index=False)
log(f"{len(table)} calibrated metric rows, {len(fits)} fit rows")
