"""Rule anomaly_dataset: an inpainted set's detected (or curated) samples as one RoadAnomaly21 dataset."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_directory
from segrel.core.logs import log
from segrel.generate.inpainting import write_anomaly_dataset

with atomic_directory(snakemake.output[0]) as out:
    kept = write_anomaly_dataset(out, snakemake.input.shards, set_label=snakemake.wildcards.dataset,
                                 keep=snakemake.params.keep)
log(f"{len(kept)} samples from {len(snakemake.input.shards)} shards")
