"""Rule demo_dataset: write one embedded demo dataset in its real dataset's layout."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.demo_data import WRITERS  # noqa: E402

fmt = snakemake.params.format
settings = dict(snakemake.params.settings)
print(f"generating demo {fmt} dataset into {snakemake.output[0]}: {settings}", file=sys.stderr)
WRITERS[fmt](snakemake.output[0], **settings)
print("done", file=sys.stderr)
