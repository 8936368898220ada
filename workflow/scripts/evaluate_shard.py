"""Rule evaluate_shard: one model, one shard of one test set, every metric in one pass."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log, progress
from segrel.core.sharding import shard_samples
from segrel.evaluate.evaluation import evaluate_shard
from segrel.models.segmentors import load_model

torch.set_num_threads(snakemake.threads)
test_set = snakemake.params.test_set
samples = formats.list_samples(test_set["format"], snakemake.input.data, test_set["split"], test_set["subset"])
shard = shard_samples(samples, int(snakemake.wildcards.shard), int(snakemake.params.shards))
device = resolve_device(snakemake.params.device)
log(f"{snakemake.wildcards.model} on {snakemake.wildcards.test_set}: {len(shard)} of {len(samples)} images, {device}")
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
state = evaluate_shard(
    model,
    test_set["format"],
    shard,
    batch_size=snakemake.params.batch_size,
    calibration_pixels=snakemake.params.calibration_pixels,
    seed=snakemake.params.seed,
    progress=progress,
)
with atomic_file(snakemake.output[0], "wb") as handle:
    state.save(handle)
log("done")
