"""Rules evaluate_shard and evaluate_model: one model on one shard of one test set, or of every
test set (imports and the model loaded once); every metric in one pass per image. Rules
evaluate_calibrated_shard / evaluate_calibrated_model run the same code with the model's
calibrators (params.calibrations): one pass per image, one state per calibrator."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log, progress
from segrel.core.sharding import shard_samples
from segrel.evaluate.evaluation import Ablations, evaluate_calibrated_shard
from segrel.models.segmentors import load_model, output_kind

torch.set_num_threads(snakemake.threads)
settings, model_name = snakemake.params.settings, snakemake.wildcards.model
device = resolve_device(settings["device"])
ablations = Ablations(tuple(settings["ablations"]["calibration_pixels"]), settings["ablations"]["negative_entropy"])
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
log(f"{model_name}: its decode head outputs {output_kind(model.cfg)}")
# {test set: ["<calibration set>/<method>", ...]}; plain evaluation: the logits as they are ("")
calibrations = snakemake.params.get("calibrations") or {name: [""] for name in snakemake.params.test_sets}
calibrators = {"": None}
if snakemake.input.get("calibrators"):
    from segrel.calibrate.calibrators import load_calibrators, model_fingerprint

    fingerprint = model_fingerprint(model)
    for path in snakemake.input.calibrators:  # results/calibration/<model>/<set>.pt
        name = path.rsplit("/", 1)[1].removesuffix(".pt")
        loaded = load_calibrators(path, model_name, fingerprint)
        calibrators |= {f"{name}/{method}": calibrator for method, calibrator in loaded.items()}
outputs = iter(snakemake.output)  # in the order of params.test_sets, then of its calibrations
for name, test_set in snakemake.params.test_sets.items():
    samples = formats.list_samples(test_set["format"], test_set["root"], test_set["split"], test_set["subset"])
    shard = shard_samples(samples, int(snakemake.wildcards.shard), int(snakemake.params.shards))
    log(f"{model_name} on {name}: {len(shard)} of {len(samples)} images, {device}, "
        f"{len(calibrations[name])} state(s)")
    try:
        states = evaluate_calibrated_shard(model, test_set["format"], shard,
                                           {key: calibrators[key] for key in calibrations[name]},
                                           batch_size=settings["batch_size"],
                                           calibration_pixels=settings["calibration_pixels"], seed=settings["seed"],
                                           ablations=ablations, unknown_ids=test_set["unknown_ids"],
                                           progress=progress, name=model_name)
    except ValueError as error:  # the data or the model's outputs: say which model and test set
        raise ValueError(f"{model_name} on {name}: {error}") from None
    for key in calibrations[name]:
        with atomic_file(next(outputs), "wb") as handle:
            states[key].save(handle)
if next(outputs, None) is not None:
    raise RuntimeError("the rule lists more outputs than its test sets and calibrations make")
log("done")
