"""Rules evaluate_shard and evaluate_model: one model on one shard of one test set, or of every
test set (imports and the model loaded once); every metric in one pass per image. Rules
evaluate_calibrated_shard / evaluate_calibrated_model run the same code with the model's
calibrators (params.calibrations): one pass per image, one state per calibrator."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import torch

from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_directory, atomic_file
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
# outputs in the order of params.test_sets: a state file each, or with calibrations a folder of
# <calibration set>/<method>.npz
for (name, test_set), output in zip(snakemake.params.test_sets.items(), snakemake.output, strict=True):
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
    if "" in states:
        with atomic_file(output, "wb") as handle:
            states[""].save(handle)
        continue
    with atomic_directory(output) as folder:
        for key, state in states.items():
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            state.save(folder / f"{key}.npz")
log("done")
