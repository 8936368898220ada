"""Rules detect_shard and detect_detector: one detector's detections on one shard of one test
set, or of every test set (imports and the detector loaded once)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log, progress
from segrel.detect.detectors import load_detector
from segrel.detect.evaluation import DetectionTestSet, detect_shard

torch.set_num_threads(snakemake.threads)
params, detector = snakemake.params, snakemake.wildcards.detector
device = resolve_device(params.device)
model = load_detector(snakemake.input.config, snakemake.input.checkpoint, device=device)
log(f"{detector} on {device}")
# outputs in the order of params.test_sets (the rules list them so)
for (name, spec), output in zip(params.test_sets.items(), snakemake.output, strict=True):
    test_set = DetectionTestSet(**spec)
    log(f"{detector} on {name}" + (f", attacked: {spec['attack']}" if spec["attack"] else ""))
    try:
        detections = detect_shard(model, test_set, int(snakemake.wildcards.shard), params.shards,
                                  batch_size=params.batch_size, progress=progress)
    except (ValueError, RuntimeError) as error:  # the data, the detector, GPU memory: name both
        raise type(error)(f"{detector} on {name}: {error}") from None
    with atomic_file(output, "wb") as handle:
        detections.save(handle)
log("done")
