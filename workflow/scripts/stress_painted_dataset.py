"""Rule stress_painted_dataset: a test set (or training split) under scenario ai_background, each
background repainted by the generation stage's inpainting model, the objects kept."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.devices import configure_torch, resolve_device
from segrel.core.logs import log, progress
from segrel.generate.inpainting import load_models
from segrel.stress.backgrounds import BackgroundSettings, background_painter
from segrel.stress.testsets import StressedSet, write_stressed_set

configure_torch(snakemake.threads)
spec, device = StressedSet(**snakemake.params.spec), resolve_device(snakemake.params.device)
settings = BackgroundSettings.from_params(snakemake.params.settings)
log(f"{snakemake.wildcards.dataset}: {spec.name} of {spec.split}/{spec.subset} on {device}, {settings}")
pipeline = load_models(snakemake.params.inpainting, None, None, device).inpainting
count = write_stressed_set(spec, snakemake.output[0], progress=progress, paint=background_painter(pipeline, settings))
log(f"done: {count} images")
