"""Rules evaluate_calibrated_shard and evaluate_calibrated_model: a model's calibrators on one
shard of one (or every) calibrated test set, through the evaluation's own code: one forward
pass per image, one state per calibrator, in a folder per test set (<set>/<method>.npz)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

import torch

from segrel.calibrate.calibrators import as_transforms, load_calibrators, model_fingerprint
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_directory
from segrel.core.logs import log
from segrel.evaluate.evaluation import evaluate_job
from segrel.models.segmentors import load_model

torch.set_num_threads(snakemake.threads)
settings, model_name = snakemake.params.settings, snakemake.wildcards.model
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=resolve_device(settings["device"]))
fingerprint = model_fingerprint(model)
calibrators = {}
for path in snakemake.input.calibrators:  # results/calibration/<model>/<set>.pt
    loaded = load_calibrators(path, model_name, fingerprint)
    calibrators |= {f"{Path(path).stem}/{method}": calibrator for method, calibrator in loaded.items()}
transforms, features = as_transforms(calibrators, model, model_name)
# {test set: ["<calibration set>/<method>", ...]}, outputs in the order of params.test_sets
calibrations = snakemake.params.calibrations
jobs = evaluate_job(model, model_name, snakemake.params.test_sets, int(snakemake.wildcards.shard),
                    int(snakemake.params.shards), settings,
                    lambda name: {key: transforms[key] for key in calibrations[name]}, features)
for (_, states), output in zip(jobs, snakemake.output, strict=True):
    with atomic_directory(output) as folder:
        for key, state in states.items():
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            state.save(folder / f"{key}.npz")
log("done")
