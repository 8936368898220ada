"""Rules evaluate_shard and evaluate_model: one model on one shard of one test set, or of every
test set (imports and the model loaded once); every metric in one pass per image."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.evaluation import evaluate_job
from segrel.models.segmentors import load_model, output_kind

torch.set_num_threads(snakemake.threads)
settings, model_name = snakemake.params.settings, snakemake.wildcards.model
device = resolve_device(settings["device"])
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
log(f"{model_name}: its decode head outputs {output_kind(model.cfg)}; {device}")
# outputs in the order of params.test_sets (the rules list them so)
jobs = evaluate_job(model, model_name, snakemake.params.test_sets, int(snakemake.wildcards.shard),
                    int(snakemake.params.shards), settings)
for (_, states), output in zip(jobs, snakemake.output, strict=True):
    with atomic_file(output, "wb") as handle:
        states[""].save(handle)
log("done")
