"""Rule outlier_objects: one source of pasted objects (outlier_training.objects) as an object bank."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_directory
from segrel.core.logs import log
from segrel.models.outliers import object_source, write_object_bank

source = snakemake.params.source
with atomic_directory(snakemake.output[0]) as out:
    table = write_object_bank(out, object_source(source))
log(f"{len(table)} objects ({source['source']}), median {int(table.pixels.median())} pixels")
