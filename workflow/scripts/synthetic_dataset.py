"""Rule synthetic_dataset: put a generated domain's shards together into one dataset folder."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_directory, merge_trees
from segrel.core.logs import log

with atomic_directory(snakemake.output[0]) as out:
    count = merge_trees(snakemake.input.shards, out)
log(f"{count} files from {len(snakemake.input.shards)} shards")
