"""Rules evaluate_shard and evaluate_model: one model on one shard of one test set, or of every
test set (imports and the model loaded once); every metric in one pass per image."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log, progress
from segrel.core.sharding import shard_samples
from segrel.evaluate.evaluation import Ablations, evaluate_shard
from segrel.models.segmentors import load_model, output_kind

torch.set_num_threads(snakemake.threads)
settings, model_name = snakemake.params.settings, snakemake.wildcards.model
device = resolve_device(settings["device"])
ablations = Ablations(tuple(settings["ablations"]["calibration_pixels"]), settings["ablations"]["negative_entropy"])
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
log(f"{model_name}: its decode head outputs {output_kind(model.cfg)}")
# outputs in the order of params.test_sets (the rules list them so)
for (name, test_set), output in zip(snakemake.params.test_sets.items(), snakemake.output, strict=True):
    samples = formats.list_samples(test_set["format"], test_set["root"], test_set["split"], test_set["subset"])
    shard = shard_samples(samples, int(snakemake.wildcards.shard), int(snakemake.params.shards))
    log(f"{model_name} on {name}: {len(shard)} of {len(samples)} images, {device}")
    try:
        state = evaluate_shard(model, test_set["format"], shard, batch_size=settings["batch_size"],
                               calibration_pixels=settings["calibration_pixels"], seed=settings["seed"],
                               ablations=ablations, unknown_ids=test_set["unknown_ids"], progress=progress)
    except ValueError as error:  # the data or the model's outputs: say which model and test set
        raise ValueError(f"{model_name} on {name}: {error}") from None
    with atomic_file(output, "wb") as handle:
        state.save(handle)
log("done")
