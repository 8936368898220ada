"""Rule synthetic_dataset: put a generated domain's shards together into one dataset folder."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.generation import merge_trees  # noqa: E402
from segrel.io import atomic_directory  # noqa: E402

with atomic_directory(snakemake.output[0]) as out:
    count = merge_trees(snakemake.input.shards, out)
print(f"{count} files from {len(snakemake.input.shards)} shards", file=sys.stderr)
