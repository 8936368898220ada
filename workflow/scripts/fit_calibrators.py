"""Rules fit_calibrators and fit_model_calibrators: a model's calibrators fitted on one calibration
set, or on every set (imports and the model loaded once)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import hashlib
import shutil
from pathlib import Path

import torch

from segrel.calibrate.calibrators import model_fingerprint, save_calibrators
from segrel.calibrate.fitting import CalibrationSettings, Source, capped, collect, fit, scratch_folder
from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log, progress
from segrel.models.segmentors import load_model

torch.set_num_threads(snakemake.threads)
model_name = snakemake.wildcards.model
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=resolve_device(snakemake.params.device))
fingerprint = model_fingerprint(model)
# outputs in the order of params.sets (the rules list them so)
for (name, spec), output in zip(snakemake.params.sets.items(), snakemake.output, strict=True):
    settings = CalibrationSettings.from_config(spec)
    sources = [Source(f"{source['dataset']}/{source['split']}", source["format"],
                      formats.list_samples(source["format"], source["root"], source["split"], source["subset"]),
                      source["unknown_ids"], spec["augmentation"])
               for source in spec["images"]]
    sources = capped(sources, spec["max_images"], settings.seed)
    log(f"{model_name} on calibration set {name}: {sum(len(s.samples) for s in sources)} images, "
        f"fitting {', '.join(settings.methods())}")
    checkpoints = Path(output).with_suffix(".lts")  # LTS resumes from here after an interruption
    try:
        with scratch_folder() as scratch:
            data = collect(model, sources, settings, Path(scratch), name=model_name, progress=progress)
            images = [sample.name for source in sources for sample in source.samples]
            key = hashlib.sha256(f"{fingerprint}/{name}/{spec}/{images}".encode()).hexdigest()
            calibrators, report = fit(data, settings, checkpoints=checkpoints, resume_key=key, log=log)
    except ValueError as error:  # the data or the model: say which model and calibration set
        raise ValueError(f"{model_name} on calibration set {name}: {error}") from None
    with atomic_file(output, "wb") as handle:
        save_calibrators(handle, model_name, fingerprint, calibrators, report)
    shutil.rmtree(checkpoints, ignore_errors=True)
log("done")
