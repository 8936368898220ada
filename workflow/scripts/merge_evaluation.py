"""Rule merge_evaluation: merge shard states, one tidy row per (model, test set, measure, score)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.evaluation import merge_shard_tables

metrics, images, ablations = merge_shard_tables(snakemake.params.shards, snakemake.params.in_domain,
                                     snakemake.params.excluded_classes)
with atomic_file(snakemake.output.metrics) as handle:
    metrics.to_csv(handle, index=False)
with atomic_file(snakemake.output.images) as handle:
    images.to_csv(handle, index=False)
with atomic_file(snakemake.output.ablations) as handle:
    ablations.to_csv(handle, index=False)
log(f"{len(metrics)} metric rows, {len(images)} image rows, {len(ablations)} ablation rows")
