"""Rule estimate_depth: metric depth of every image of one dataset split that ships none, cached
for the depth-based corruptions."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core import formats
from segrel.core.devices import configure_torch, resolve_device
from segrel.core.logs import log, progress
from segrel.stress.depth_estimation import load_estimator, write_depth_set

configure_torch(snakemake.threads)
params, device, split = snakemake.params, resolve_device(snakemake.params.device), snakemake.wildcards.split
samples = formats.list_samples(params.format, params.root, split)
log(f"{len(samples)} images of {snakemake.wildcards.dataset}/{split}; {params.estimator} on {device}")
model, processor = load_estimator(params.estimator, device)
count = write_depth_set(model, processor, samples, params.root, snakemake.output[0], batch_size=params.batch_size,
                        progress=progress)
log(f"done: {count} images")
