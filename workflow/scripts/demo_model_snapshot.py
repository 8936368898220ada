"""Rule demo_model_snapshot: a demo model that is an earlier stop of another one's training run."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.models.segmentors import copy_snapshot

copy_snapshot(snakemake.input.snapshots, snakemake.params.iterations, snakemake.input.config,
              snakemake.output.config, snakemake.output.checkpoint)
log(f"{snakemake.output.checkpoint}: the weights of {snakemake.input.snapshots} after "
    f"{snakemake.params.iterations} iterations")
